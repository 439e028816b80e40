"""The two public ways to report an exposed key.

``POST /api/v1/secret-scanning/github`` takes GitHub's secret-scanning reports; no API key,
but GitHub's ECDSA signature over the raw body (``exposure.github``). ``POST
/api/v1/keys/revoke-exposed`` takes up to 100 keys from anyone: holding a key is the proof, and
the answer, always ``202 {"received": N}``, says nothing of whether any key was ours. Both opt
out of the key pipeline explicitly (no authentication or permission classes, no key throttle).
"""

import io
import time

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ParseError
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.audit import Actor
from apikeys.keys import counters, ratelimit
from apikeys.keys import redis_contract as contract
from exposure import github, services
from exposure.errors import InvalidSignature, PayloadTooLarge, RevocationRateLimited
from perceptis.clientip import client_ip
from perceptis.errors import InvalidRequest, ServiceUnavailable, UnsupportedMediaType
from perceptis.fields import RejectUnknownFieldsMixin, StrictCharField, StrictListField
from perceptis.parsers import StrictJSONParser, json_body

MAX_REPORT_BYTES = 1024 * 1024
MAX_REPORT_TOKENS = 1000
MAX_REVOKE_KEYS = 100


class _PublicView(APIView):
    # Public: no API key. The key pipeline's classes are left out on purpose, not forgotten.
    authentication_classes = []
    permission_classes = []
    throttle_classes = []
    schema_tag = "Exposed keys"


class GithubTokenSerializer(serializers.Serializer):
    token = StrictCharField(max_length=1000, trim_whitespace=False)
    type = StrictCharField(max_length=200, required=False, allow_blank=True)
    url = StrictCharField(max_length=2000, required=False, allow_blank=True)
    source = StrictCharField(max_length=200, required=False, allow_blank=True)


class GithubFeedbackSerializer(serializers.Serializer):
    token_raw = serializers.CharField()
    token_type = serializers.CharField()
    label = serializers.ChoiceField(choices=["true_positive", "false_positive"])


def _is_json(request) -> bool:
    return (request.content_type or "").split(";", 1)[0].strip().lower() == "application/json"


class GithubSecretScanningView(_PublicView):
    errors = (InvalidSignature, PayloadTooLarge)

    @extend_schema(
        operation_id="secret_scanning_github",
        summary="Receive a GitHub secret-scanning report (GitHub's partner program)",
        description=(
            "GitHub posts the Perceptis keys it found in public as a JSON array of "
            "`{token, type, url, source}`, signed with ECDSA P-256 / SHA-256 over the raw body. "
            "A bad or missing signature is `401 invalid_signature` and nothing is read or "
            "written. Each of our keys not yet revoked is revoked at once (reason `exposed`); "
            "the answer labels each token `true_positive` (ours, revoked now or before) or "
            "`false_positive`. At most 1 MB and 1,000 tokens. Repeated reports change nothing."
        ),
        auth=[],
        parameters=[
            OpenApiParameter(
                "Github-Public-Key-Identifier",
                location=OpenApiParameter.HEADER,
                required=True,
                type=str,
                description="The identifier of GitHub's signing key.",
            ),
            OpenApiParameter(
                "Github-Public-Key-Signature",
                location=OpenApiParameter.HEADER,
                required=True,
                type=str,
                description="Base64 of the DER ECDSA signature of the raw body.",
            ),
        ],
        request=GithubTokenSerializer(many=True),
        responses={200: GithubFeedbackSerializer(many=True)},
    )
    def post(self, request):
        length = request.META.get("CONTENT_LENGTH") or "0"
        if not length.isdigit() or int(length) > MAX_REPORT_BYTES:
            raise PayloadTooLarge()
        if not _is_json(request):
            raise UnsupportedMediaType()
        body = request.body
        try:
            valid = github.signature_valid(
                body=body,
                identifier=request.headers.get("Github-Public-Key-Identifier", "").strip(),
                signature=request.headers.get("Github-Public-Key-Signature", "").strip(),
            )
        except github.KeysUnavailable:
            raise ServiceUnavailable(
                "GitHub's signing keys cannot be read right now; send again."
            ) from None
        if not valid:
            raise InvalidSignature()
        report = _report(body)
        feedback = services.exposed_report_github(
            report=report,
            actor=Actor(label_override="GitHub secret scanning", ip=client_ip(request)),
        )
        return Response(GithubFeedbackSerializer(feedback, many=True).data)


def _report(body: bytes) -> list[dict]:
    """Return the report's items, checked; refuse a malformed or oversized report."""
    try:
        items = StrictJSONParser().parse(io.BytesIO(body), "application/json", {})
    except ParseError as exc:
        raise InvalidRequest(f"The report is not valid JSON: {exc.detail}") from None
    if not isinstance(items, list):
        raise InvalidRequest("The report is a JSON array of found tokens.")
    if len(items) > MAX_REPORT_TOKENS:
        raise PayloadTooLarge()
    checked = GithubTokenSerializer(data=items, many=True)
    checked.is_valid(raise_exception=True)
    return [dict(item) for item in checked.validated_data]


class RevokeExposedSerializer(RejectUnknownFieldsMixin, serializers.Serializer):
    keys = StrictListField(
        child=StrictCharField(max_length=200, trim_whitespace=False),
        min_length=1,
        max_length=MAX_REVOKE_KEYS,
        help_text="The exposed keys (`sk-live-per-…` / `sk-test-per-…`), at most 100.",
    )


class RevokeExposedAnswerSerializer(serializers.Serializer):
    received = serializers.IntegerField(help_text="How many keys the request held.")


def _check_rate(ip: str | None) -> None:
    """Refuse an address past ``APIKEYS_REVOKE_EXPOSED_PER_MINUTE`` requests this minute."""
    limit = settings.APIKEYS_REVOKE_EXPOSED_PER_MINUTE
    if not limit:
        return
    moment = time.time()
    name = contract.REVOKE_EXPOSED.format(ip=ip or "-", window=int(moment // 60))
    count = ratelimit.shared_call(counters.incr, name, contract.MINUTE_TTL, on=name)
    if count is None:  # Redis unavailable: this process counts its share alone
        count, limit = ratelimit.local_counters.incr(name), max(1, ratelimit.share(limit))
    if count > limit:
        raise RevocationRateLimited(retry_after=max(1, int(60 - moment % 60)))


class RevokeExposedView(_PublicView):
    errors = (RevocationRateLimited,)

    @extend_schema(
        operation_id="keys_revoke_exposed",
        summary="Revoke exposed keys (no authentication: holding a key is the proof)",
        description=(
            "Anyone who comes across a Perceptis key may revoke it here. Every well-formed key "
            "of ours that is not yet revoked is revoked within seconds, with the reason "
            "`exposed`, and its organization is told. The answer is always "
            '`202 {"received": N}`, whether or not any key was ours. Limited per client '
            "address (`429 rate_limited`)."
        ),
        auth=[],
        request=RevokeExposedSerializer,
        responses={202: RevokeExposedAnswerSerializer},
    )
    def post(self, request):
        ip = client_ip(request)
        _check_rate(ip)
        serializer = RevokeExposedSerializer(data=json_body(request))
        serializer.is_valid(raise_exception=True)
        keys = serializer.validated_data["keys"]
        # The same work for any well-formed key, known or not: hash it and queue it. The
        # worker looks the hashes up, so the answer's time says nothing about them either.
        hashes = [[h, pepper] for h, (_, pepper) in services.token_hashes(keys).items()]
        if hashes:
            _enqueue(hashes, ip)
        return Response({"received": len(keys)}, status=status.HTTP_202_ACCEPTED)


def _enqueue(hashes: list[list[str]], ip: str | None) -> None:
    from django_q.tasks import async_task

    try:
        # ``save=False``: the hashes are not kept in the task's result row.
        async_task("exposure.tasks.revoke_exposed", hashes, ip, save=False, group="exposure")
    except Exception:
        # The queue is down: revoke in this request rather than not at all.
        services.exposed_hashes_revoke(hashes=hashes, ip=ip)
