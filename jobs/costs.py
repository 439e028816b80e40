"""Costs by key, model and hour or day: what an organization's jobs cost, read from the ledger.

A job's cost is the ledger's net for it: minus the sum of its reserve row and its capture or
release (``billing.models``). A finished job so counts what it was charged (a capture gives back
what the engine did not use, a release all of it: refunds and cancels count), a queued or
running one what it still holds, as spend limits count it; a test key's job reserves nothing
and costs 0. Jobs count in the UTC hour they were submitted in, as spend limits count them.

``job_costs`` is the one aggregation: the worker's rollup stores its rows per hour
(``CostHourly``, ``jobs.services.costs``) and ``costs_report`` reads it for the hours not
rolled up yet, so the two cannot disagree. A report makes four queries whatever the number of
jobs: the rollup's progress, the rolled-up hours, the live ones, and the keys' names.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db.models import Count, OuterRef, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce, Trunc, TruncHour

from accounts.models import Organization
from apikeys.keys.models import ApiKey
from billing.models import LedgerEntry
from jobs.models import CostHourly, CostRollup, Job

BUCKETS = {"hour": timedelta(hours=1), "day": timedelta(days=1)}
# The most buckets one report may span: 7 days of hours, 31 days of days.
MAX_BUCKETS = {"hour": 7 * 24, "day": 31}
GROUPS = ("key", "model")
FIGURES = ("credits", "jobs", "input_tokens", "output_tokens")


def _scoped(
    queryset: QuerySet,
    *,
    organization: Organization,
    test_only: bool,
    projects: frozenset[str] | None,
) -> QuerySet:
    """Narrow jobs or rollup rows to what the caller may see; the one place costs are scoped.

    Both models carry ``organization``, ``project`` and ``test``. ``projects`` keeps those
    projects' jobs (None: every project, for the organization's pages; a key sees its own). A
    test key sees only test keys' jobs (as it sees only test keys).
    """
    queryset = queryset.filter(organization=organization)
    if projects is not None:
        queryset = queryset.filter(project_id__in=projects)
    if test_only:
        queryset = queryset.filter(test=True)
    return queryset


def job_costs(jobs: QuerySet) -> QuerySet:
    """Return ``jobs`` summed per UTC hour of submission, organization, key, project, model and
    test: ``hour, organization_id, api_key_id, project_id, model, test, jobs, input_tokens,
    output_tokens, net``, where ``net`` is the ledger's sum over the jobs' rows."""
    ledger_net = (
        LedgerEntry.objects.filter(job=OuterRef("pk"))
        .order_by()
        .values("job")
        .annotate(total=Sum("amount"))
        .values("total")
    )
    return (
        jobs.order_by()
        .annotate(hour=TruncHour("created_at", tzinfo=UTC))
        .values("hour", "organization_id", "api_key_id", "project_id", "model", "test")
        .annotate(
            jobs=Count("id"),
            input_tokens=Coalesce(Sum("input_tokens"), Value(0)),
            output_tokens=Coalesce(Sum("output_tokens"), Value(0)),
            net=Coalesce(Sum(Coalesce(Subquery(ledger_net), Value(0))), Value(0)),
        )
    )


def bucket_start(moment: datetime, bucket: str) -> datetime:
    """Return the start of the UTC hour or day containing ``moment``."""
    moment = moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    return moment.replace(hour=0) if bucket == "day" else moment


def bucket_bounds(start: datetime, end: datetime, bucket: str) -> tuple[datetime, datetime]:
    """Return ``start`` rounded down and ``end`` up to whole buckets."""
    aligned_end = bucket_start(end, bucket)
    if aligned_end < end:
        aligned_end += BUCKETS[bucket]
    return bucket_start(start, bucket), aligned_end


@dataclass(frozen=True)
class CostQuery:
    """A costs request: whole buckets from ``start`` to ``end`` (exclusive); ``project``
    asks for one project's jobs (None: every project the caller may see)."""

    start: datetime
    end: datetime
    bucket: str = "day"
    group_by: tuple[str, ...] = ()
    project: str | None = None

    @property
    def bucket_count(self) -> int:
        return int((self.end - self.start) / BUCKETS[self.bucket])


def _group_key(row: dict, group_by: tuple[str, ...]) -> tuple:
    return (
        row["api_key_id"] if "key" in group_by else None,
        row["model"] if "model" in group_by else None,
        row["test"],
    )


def costs_report(
    *,
    organization: Organization,
    query: CostQuery,
    test_only: bool = False,
    projects: frozenset[str] | None = None,
) -> dict:
    """Return the organization's costs for ``query``: every bucket from start to end, each
    with its groups (empty where nothing was submitted), and the totals. ``projects`` keeps
    the jobs submitted in those projects (None: all of them).

    Hours the worker has rolled up are read from ``CostHourly``, later ones from the jobs and
    the ledger (``job_costs``). Groups are split by ``test`` always, so a test key's jobs are
    rows of their own; ``test_only`` (a test key is asking) leaves only those.
    """
    step = BUCKETS[query.bucket]
    rolled_until = CostRollup.objects.values_list("rolled_until", flat=True).first()
    split = min(max(rolled_until or query.start, query.start), query.end)
    sums: dict[tuple, dict] = {}

    def add(bucket: datetime, group: tuple, row: dict) -> None:
        figures = sums.setdefault((bucket, group), dict.fromkeys(FIGURES, 0))
        for name in FIGURES:
            figures[name] += row[name]

    if split > query.start:
        rolled = (
            _scoped(
                CostHourly.objects,
                organization=organization,
                test_only=test_only,
                projects=projects,
            )
            .filter(hour__gte=query.start, hour__lt=split)
            .annotate(bucket=Trunc("hour", query.bucket, tzinfo=UTC))
            .values("bucket", "api_key_id", "model", "test")
            .annotate(
                credits_sum=Sum("credits"),
                jobs_sum=Sum("jobs"),
                input_sum=Sum("input_tokens"),
                output_sum=Sum("output_tokens"),
            )
            .order_by()
        )
        for row in rolled:
            add(
                row["bucket"],
                _group_key(row, query.group_by),
                {
                    "credits": row["credits_sum"],
                    "jobs": row["jobs_sum"],
                    "input_tokens": row["input_sum"],
                    "output_tokens": row["output_sum"],
                },
            )
    if split < query.end:
        live = job_costs(
            _scoped(
                Job.objects, organization=organization, test_only=test_only, projects=projects
            ).filter(created_at__gte=split, created_at__lt=query.end)
        )
        for row in live:
            add(
                bucket_start(row["hour"], query.bucket),
                _group_key(row, query.group_by),
                {**row, "credits": -row["net"]},
            )
    key_pks = {group[0] for _, group in sums if group[0] is not None}
    keys = {
        pk: {"key_id": key_id, "key_name": name}
        for pk, key_id, name in ApiKey.objects.filter(
            pk__in=key_pks, organization=organization
        ).values_list("pk", "key_id", "name")
    }
    buckets, totals = [], dict.fromkeys(FIGURES, 0)
    moment = query.start
    by_bucket: dict[datetime, list] = {}
    for (bucket, group), figures in sums.items():
        by_bucket.setdefault(bucket, []).append((group, figures))
    while moment < query.end:
        results = []
        for (key_pk, model, test), figures in by_bucket.get(moment, []):
            key = keys.get(key_pk, {})
            results.append(
                {
                    "key_id": key.get("key_id"),
                    "key_name": key.get("key_name"),
                    "model": model,
                    "test": test,
                    **figures,
                }
            )
            for name in FIGURES:
                totals[name] += figures[name]
        results.sort(
            key=lambda r: (
                r["test"],
                -r["credits"],
                -r["jobs"],
                r["key_id"] or "",
                r["model"] or "",
            )
        )
        buckets.append({"start": moment, "end": moment + step, "results": results})
        moment += step
    return {
        "start": query.start,
        "end": query.end,
        "bucket": query.bucket,
        "group_by": list(query.group_by),
        "buckets": buckets,
        "totals": totals,
    }
