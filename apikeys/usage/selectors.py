"""Reads of usage figures, always scoped to one organization."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Sum
from django.utils import timezone

from accounts.models import Organization
from apikeys.keys.models import ApiKey
from apikeys.usage.models import BUCKET_FIELDS, LATENCY_BUCKETS_MS, UsageHourly

USAGE_WINDOWS = {
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
    "90d": timedelta(days=90),
}


def percentile_ms(histogram: list[int], fraction: float) -> float | None:
    """Estimate a latency percentile from bucket counts, interpolating inside the bucket."""
    total = sum(histogram)
    if not total:
        return None
    rank = fraction * total
    seen = 0
    lower = 0.0
    for count, upper in zip(histogram, (*LATENCY_BUCKETS_MS, None), strict=True):
        if count and seen + count >= rank:
            if upper is None:
                return float(LATENCY_BUCKETS_MS[-1])
            return round(lower + (upper - lower) * ((rank - seen) / count), 1)
        seen += count
        lower = float(upper) if upper is not None else lower
    return float(LATENCY_BUCKETS_MS[-1])


@dataclass(frozen=True)
class UsageSummary:
    requests: int
    errors: int
    p50_ms: float | None
    p95_ms: float | None

    @property
    def error_rate(self) -> float:
        """Errors as a fraction of requests (0.0 when there were none)."""
        return self.errors / self.requests if self.requests else 0.0


def _usage_rows(
    *,
    organization: Organization,
    api_key: ApiKey | None,
    since: datetime,
    until=None,
    projects: frozenset[str] | None = None,
    test_only: bool = False,
):
    qs = UsageHourly.objects.filter(organization=organization, hour__gte=_hour(since))
    if test_only:
        qs = qs.filter(api_key__type=ApiKey.Type.TEST)
    if until is not None:
        qs = qs.filter(hour__lt=until)
    if api_key is not None:
        qs = qs.filter(api_key=api_key)
    if projects is not None:
        # Requests count where their key is now: a moved key takes its request figures along
        # (its jobs' spend stays where it was submitted).
        qs = qs.filter(api_key__project_id__in=projects)
    return qs


def _hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def usage_summary(
    *,
    organization: Organization,
    since: datetime,
    api_key: ApiKey | None = None,
    until: datetime | None = None,
    projects: frozenset[str] | None = None,
    test_only: bool = False,
) -> UsageSummary:
    """Return requests, errors and p50/p95 latency from ``since`` to ``until`` (whole hours),
    of the keys of ``projects`` (None: every key); of test keys only if ``test_only`` (a test key
    is asking)."""
    rows = _usage_rows(
        organization=organization,
        api_key=api_key,
        since=since,
        until=until,
        projects=projects,
        test_only=test_only,
    )
    sums = rows.aggregate(
        requests=Sum("requests"), errors=Sum("errors"), **{f: Sum(f) for f in BUCKET_FIELDS}
    )
    histogram = [sums[f] or 0 for f in BUCKET_FIELDS]
    return UsageSummary(
        requests=sums["requests"] or 0,
        errors=sums["errors"] or 0,
        p50_ms=percentile_ms(histogram, 0.50),
        p95_ms=percentile_ms(histogram, 0.95),
    )


def usage_summaries_by_key(
    *,
    organization: Organization,
    since: datetime,
    until: datetime | None = None,
    projects: frozenset[str] | None = None,
    test_only: bool = False,
) -> dict[int, UsageSummary]:
    """Return ``{api_key_id: UsageSummary}`` for every key (every test key if ``test_only``) with
    usage since ``since``."""
    rows = (
        _usage_rows(
            organization=organization,
            api_key=None,
            since=since,
            until=until,
            projects=projects,
            test_only=test_only,
        )
        .values("api_key_id")
        .annotate(
            requests_sum=Sum("requests"),
            errors_sum=Sum("errors"),
            **{f"{f}_sum": Sum(f) for f in BUCKET_FIELDS},
        )
    )
    out = {}
    for row in rows:
        histogram = [row[f"{f}_sum"] or 0 for f in BUCKET_FIELDS]
        out[row["api_key_id"]] = UsageSummary(
            requests=row["requests_sum"] or 0,
            errors=row["errors_sum"] or 0,
            p50_ms=percentile_ms(histogram, 0.50),
            p95_ms=percentile_ms(histogram, 0.95),
        )
    return out


def usage_series(
    *,
    organization: Organization,
    since: datetime,
    api_key: ApiKey | None = None,
    step: timedelta = timedelta(hours=1),
    now: datetime | None = None,
    projects: frozenset[str] | None = None,
) -> list[tuple[datetime, int, int]]:
    """Return ``[(bucket_start, requests, errors)]`` from ``since`` to ``now`` (the end of the
    range), every bucket present.

    ``step`` is one hour or a whole number of hours (e.g. a day for 30-day charts).
    """
    now = now or timezone.now()
    start = _hour(since)
    buckets: dict[datetime, list[int]] = {}
    moment = start
    while moment <= now:
        buckets[moment] = [0, 0]
        moment += step
    rows = _usage_rows(
        organization=organization, api_key=api_key, since=since, until=now, projects=projects
    ).values_list("hour", "requests", "errors")
    for hour, requests, errors in rows:
        index = int((hour - start) / step)
        bucket = start + index * step
        if bucket in buckets:
            buckets[bucket][0] += requests
            buckets[bucket][1] += errors
    return [(moment, req, err) for moment, (req, err) in buckets.items()]
