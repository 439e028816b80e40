"""Reads about jobs: a key's and an organization's jobs, and what they spent in a period."""

from datetime import UTC, datetime

from django.db.models import Case, IntegerField, Q, Sum, When

from accounts.models import Organization, Project
from apikeys.keys.models import ApiKey
from jobs.errors import JobNotFound
from jobs.models import Job

# A job's spend: what it holds while queued or running, what it was charged once finished.
# Failed jobs and jobs canceled before their engine returned are charged 0; a job canceled
# after its engine returned pays what the engine reported.
_CHARGED = [Job.Status.SUCCEEDED, Job.Status.CANCELED]


def _spend_since(since: datetime | None):
    """The spend of the jobs submitted since ``since`` (None: all), as an aggregate."""
    period = {} if since is None else {"created_at__gte": since}
    return Sum(
        Case(
            When(status__in=Job.IN_FLIGHT, then="credits_reserved", **period),
            When(status__in=_CHARGED, then="credits_charged", **period),
            default=0,
            output_field=IntegerField(),
        )
    )


_SPEND = _spend_since(None)


def jobs_list(
    *,
    organization: Organization,
    key: ApiKey | None = None,
    status: str | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
):
    """Return the organization's jobs, or only ``key``'s, newest first, optionally filtered.

    ``created_after`` and ``created_before`` are inclusive bounds on the submission time. The
    API passes the calling key (a key sees only the jobs it created); the Jobs page passes the
    key a person picked, or none.
    """
    jobs = Job.objects.filter(organization_id=organization.pk)
    if key is not None:
        jobs = jobs.filter(api_key_id=key.pk)
    if status:
        jobs = jobs.filter(status=status)
    if created_after is not None:
        jobs = jobs.filter(created_at__gte=created_after)
    if created_before is not None:
        jobs = jobs.filter(created_at__lte=created_before)
    return jobs.order_by("-created_at", "-id")


def job_get(*, organization: Organization, job_id: str) -> Job:
    """Return the organization's job with its key; any other id is ``JobNotFound``."""
    if not Job.is_valid_id(job_id):
        raise JobNotFound()
    try:
        return Job.objects.select_related("api_key").get(
            job_id=job_id, organization_id=organization.pk
        )
    except Job.DoesNotExist:
        raise JobNotFound() from None


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


def spend_for_project(*, project: Project, since: datetime | None) -> int:
    """Return the credits the project's jobs submitted since ``since`` hold or were charged."""
    return _spend(Q(project_id=project.project_id), since)


_PERIODS = (ApiKey.SpendPeriod.DAY, ApiKey.SpendPeriod.MONTH, ApiKey.SpendPeriod.TOTAL)


def spend_figures_by_key(*, keys, now: datetime) -> dict[int, dict[str, int]]:
    """Return ``{key pk: {"day": …, "month": …, "total": …}}``, what each of ``keys``'s jobs
    spent in the UTC day and month of ``now`` and in all (of the jobs kept), one query."""
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
    return {
        key.pk: {period: (figures.get(key.pk) or {}).get(period) or 0 for period in _PERIODS}
        for key in keys
    }


def spend_by_key(*, keys, now: datetime) -> dict[int, int]:
    """Return ``{key pk: credits spent in the key's current period}`` for ``keys``, one query."""
    keys = list(keys)
    figures = spend_figures_by_key(keys=keys, now=now)
    return {key.pk: figures[key.pk].get(key.spend_limit_period, 0) for key in keys}
