"""Reads about jobs: what keys and organizations have spent in a period."""

from datetime import UTC, datetime

from django.db.models import Case, IntegerField, Q, Sum, When

from accounts.models import Organization
from apikeys.keys.models import ApiKey
from jobs.models import Job

# A job's spend: what it holds while queued or running, what it was charged once it succeeded;
# failed and canceled jobs gave their reservation back.
_SPEND = Sum(
    Case(
        When(
            status__in=[Job.Status.QUEUED, Job.Status.RUNNING],
            then="credits_reserved",
        ),
        When(status=Job.Status.SUCCEEDED, then="credits_charged"),
        default=0,
        output_field=IntegerField(),
    )
)


def spend_period_start(period: str, now: datetime) -> datetime | None:
    """Return when the UTC ``period`` (``day``, ``month`` or ``total``) containing ``now`` began.

    ``total`` has no start (None). Jobs belong to the period they were submitted in.
    """
    if period == ApiKey.SpendPeriod.TOTAL:
        return None
    start = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if period == ApiKey.SpendPeriod.MONTH:
        start = start.replace(day=1)
    return start


def _spend(filters: Q, since: datetime | None) -> int:
    if since is not None:
        filters &= Q(created_at__gte=since)
    return Job.objects.filter(filters).aggregate(spend=_SPEND)["spend"] or 0


def spend_for_key(*, key: ApiKey, since: datetime | None) -> int:
    """Return the credits ``key``'s jobs submitted since ``since`` hold or were charged."""
    return _spend(Q(api_key_id=key.pk), since)


def spend_for_organization(*, organization: Organization, since: datetime | None) -> int:
    """Return the credits the organization's jobs submitted since ``since`` hold or were charged."""
    return _spend(Q(organization_id=organization.pk), since)


def spend_by_key(*, keys, now: datetime) -> dict[int, int]:
    """Return ``{key pk: credits spent in the key's current period}`` for ``keys``, one query."""
    keys = list(keys)
    if not keys:
        return {}
    day = spend_period_start(ApiKey.SpendPeriod.DAY, now)
    month = spend_period_start(ApiKey.SpendPeriod.MONTH, now)
    rows = (
        Job.objects.filter(api_key__in=keys)
        .order_by()
        .values("api_key")
        .annotate(
            day=_spend_since(day),
            month=_spend_since(month),
            total=_SPEND,
        )
    )
    figures = {row["api_key"]: row for row in rows}
    return {key.pk: (figures.get(key.pk) or {}).get(key.spend_limit_period) or 0 for key in keys}


def _spend_since(since: datetime):
    return Sum(
        Case(
            When(
                created_at__gte=since,
                status__in=[Job.Status.QUEUED, Job.Status.RUNNING],
                then="credits_reserved",
            ),
            When(created_at__gte=since, status=Job.Status.SUCCEEDED, then="credits_charged"),
            default=0,
            output_field=IntegerField(),
        )
    )
