"""The costs rollup: the worker keeps ``CostHourly`` from the jobs and the ledger.

Each run, under a lock on the one ``CostRollup`` row (so workers take turns):

- rolls up the hours that have closed since the last run, oldest first, at most
  ``MAX_HOURS_PER_RUN`` at a time (a first run over a long history catches up over several
  runs; reports read the hours not rolled up yet from the jobs themselves meanwhile);
- recomputes the hours whose jobs finished since the previous run began: a job settles after
  its hour has been rolled up (its capture or release changes its net), and so does a job
  retried by support.

An hour closes ``SETTLE_MARGIN`` after it ends, so a submission whose transaction commits a
little after its ``created_at`` is in its hour when the hour is first rolled up. Every
recomputation replaces whole hours with ``jobs.costs.job_costs``, so running twice changes
nothing. Hours older than the jobs' retention are never recomputed: their jobs may be purged,
and their figures stay as they were rolled up.
"""

from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.db.models.functions import TruncHour
from django.utils import timezone

from jobs.costs import bucket_start, job_costs
from jobs.models import CostHourly, CostRollup, Job

HOUR = timedelta(hours=1)
SETTLE_MARGIN = timedelta(minutes=5)
MAX_HOURS_PER_RUN = 7 * 24


def _hour_ranges(hours: list[datetime]) -> list[tuple[datetime, datetime]]:
    """Return sorted ``hours`` merged into ``[start, end)`` ranges of consecutive hours."""
    ranges = []
    for hour in sorted(hours):
        if ranges and ranges[-1][1] == hour:
            ranges[-1] = (ranges[-1][0], hour + HOUR)
        else:
            ranges.append((hour, hour + HOUR))
    return ranges


def _recompute(hours: list[datetime]) -> int:
    """Replace the rollup of ``hours`` (every organization) with what the jobs say now."""
    if not hours:
        return 0
    ranges = _hour_ranges(hours)
    in_hours = Q()
    for start, end in ranges:
        in_hours |= Q(created_at__gte=start, created_at__lt=end)
    CostHourly.objects.filter(hour__in=hours).delete()
    rows = [
        CostHourly(
            organization_id=row["organization_id"],
            api_key_id=row["api_key_id"],
            project_id=row["project_id"],
            hour=row["hour"],
            model=row["model"],
            test=row["test"],
            jobs=row["jobs"],
            input_tokens=row["input_tokens"],
            output_tokens=row["output_tokens"],
            credits=-row["net"],
        )
        for row in job_costs(Job.objects.filter(in_hours))
    ]
    CostHourly.objects.bulk_create(rows, batch_size=1000)
    return len(hours)


def _rollup_state() -> CostRollup:
    CostRollup.objects.get_or_create(pk=1)
    return CostRollup.objects.select_for_update().get(pk=1)


@transaction.atomic
def costs_rollup(*, now: datetime | None = None) -> dict:
    """Roll up the closed hours not rolled up yet and recompute those whose jobs finished
    since the last run; return ``{"rolled": hours added, "recomputed": hours redone}``."""
    now = now or timezone.now()
    state = _rollup_state()
    closed_until = bucket_start(now - SETTLE_MARGIN, "hour")
    start = state.rolled_until
    if start is None:
        oldest = Job.objects.order_by("created_at").values_list("created_at", flat=True).first()
        start = bucket_start(oldest, "hour") if oldest else closed_until
    end = max(start, min(closed_until, start + MAX_HOURS_PER_RUN * HOUR))
    new_hours = []
    moment = start
    while moment < end:
        new_hours.append(moment)
        moment += HOUR
    changed = []
    if state.ran_at is not None:
        oldest_kept = datetime.min.replace(tzinfo=UTC)
        if settings.JOBS_RETENTION_DAYS > 0:
            oldest_kept = now - timedelta(days=settings.JOBS_RETENTION_DAYS - 1)
        changed = list(
            Job.objects.filter(
                finished_at__gte=state.ran_at - SETTLE_MARGIN,
                created_at__lt=start,
                created_at__gte=oldest_kept,
            )
            .annotate(hour=TruncHour("created_at", tzinfo=UTC))
            .values_list("hour", flat=True)
            .distinct()
            .order_by("hour")
        )
    _recompute(changed + new_hours)
    state.rolled_until = end
    state.ran_at = now
    state.save(update_fields=["rolled_until", "ran_at"])
    return {"rolled": len(new_hours), "recomputed": len(changed)}
