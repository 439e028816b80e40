"""``GET /api/v1/usage``: the organization's credit balance and usage per key of the acting
key's project (a key sees nothing of other projects); a test key's report covers test keys
only, as its key list does.

Figures come from the same selectors as Developer Settings and admin; they are as fresh as the
last flush of each web process (``APIKEYS_USAGE_FLUSH_SECONDS``, 10 s by default).
"""

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from apikeys.keys.models import ApiKey, Permission
from apikeys.keys.selectors import apikey_list
from apikeys.usage import selectors
from apikeys.usage.selectors import USAGE_WINDOWS, UsageSummary
from apikeys.usage.serializers import UsageQuerySerializer, UsageReportSerializer
from billing.selectors import credits_balance

_NO_USAGE = UsageSummary(requests=0, errors=0, p50_ms=None, p95_ms=None)


def _figures(summary: UsageSummary) -> dict:
    return {
        "requests": summary.requests,
        "errors": summary.errors,
        "error_rate": round(summary.error_rate, 4),
        "p50_ms": summary.p50_ms,
        "p95_ms": summary.p95_ms,
    }


class UsageView(APIView):
    required_permission = Permission.USAGE_READ
    schema_tag = "Usage"

    @extend_schema(
        operation_id="usage",
        summary="Credit balance and usage per key for the last 24 hours, 7 and 30 days",
        description=(
            "The organization's credit balance, and requests, errors, error rate and latency "
            "(p50, p95) for the keys of the acting key's project together and per key, over "
            "the last 24 hours, 7 days and 30 days; `project` filters by project (another "
            "project's id reports nothing). A test key's report covers test keys only. "
            "Figures are as fresh as each web process's last write, at most "
            "`APIKEYS_USAGE_FLUSH_SECONDS` (10 s) old."
        ),
        parameters=[UsageQuerySerializer],
        responses={200: UsageReportSerializer},
    )
    def get(self, request):
        query = UsageQuerySerializer(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        organization = request.auth.organization
        own = request.auth.project_id
        wanted = query.validated_data.get("project", own)
        projects = frozenset({own}) if wanted == own else frozenset()
        test_only = request.auth.type == ApiKey.Type.TEST
        now = timezone.now()
        totals, by_key = {}, {}
        for window, length in USAGE_WINDOWS.items():
            since = now - length
            totals[window] = _figures(
                selectors.usage_summary(
                    organization=organization, since=since, projects=projects, test_only=test_only
                )
            )
            by_key[window] = selectors.usage_summaries_by_key(
                organization=organization, since=since, projects=projects, test_only=test_only
            )
        keys = [
            {
                "id": key.key_id,
                "name": key.name,
                "type": key.type,
                "status": key.effective_status(now),
                "usage": {w: _figures(by_key[w].get(key.pk, _NO_USAGE)) for w in USAGE_WINDOWS},
            }
            for key in apikey_list(
                organization=organization, now=now, projects=projects, test_only=test_only
            )
        ]
        return Response(
            {
                "as_of": now,
                "credits": {"balance": credits_balance(organization=organization)},
                "totals": totals,
                "keys": keys,
            }
        )
