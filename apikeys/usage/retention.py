"""Purge old usage, request logs and finished jobs, a batch at a time.

Each batch selects at most ``batch_size`` primary keys in key order past the previous batch and
deletes them in its own short transaction, so no purge holds locks on many rows for long and
the API keeps writing usage while it runs.
"""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from apikeys.models import RequestLog, UsageHourly

logger = logging.getLogger(__name__)


def delete_in_batches(queryset: QuerySet, *, batch_size: int | None = None) -> int:
    """Delete the rows of ``queryset`` in primary-key batches, one transaction each.

    Return how many rows were deleted. Related rows follow each model's ``on_delete``.
    """
    batch_size = batch_size or settings.APIKEYS_PURGE_BATCH_SIZE
    model = queryset.model
    deleted = 0
    last_pk = None
    while True:
        page = queryset.order_by("pk")
        if last_pk is not None:
            page = page.filter(pk__gt=last_pk)
        pks = list(page.values_list("pk", flat=True)[:batch_size])
        if not pks:
            return deleted
        with transaction.atomic():
            _, by_model = model.objects.filter(pk__in=pks).delete()
        deleted += by_model.get(model._meta.label, 0)
        last_pk = pks[-1]
        if len(pks) < batch_size:
            return deleted


def usage_purge(*, now: datetime | None = None, batch_size: int | None = None) -> int:
    """Delete hourly usage older than ``APIKEYS_USAGE_RETENTION_DAYS``; return the count."""
    days = settings.APIKEYS_USAGE_RETENTION_DAYS
    if days <= 0:
        return 0
    cutoff = (now or timezone.now()) - timedelta(days=days)
    return delete_in_batches(UsageHourly.objects.filter(hour__lt=cutoff), batch_size=batch_size)


def request_log_purge(*, now: datetime | None = None, batch_size: int | None = None) -> int:
    """Delete request-log rows older than ``APIKEYS_REQUEST_LOG_RETENTION_DAYS``."""
    days = settings.APIKEYS_REQUEST_LOG_RETENTION_DAYS
    if days <= 0:
        return 0
    cutoff = (now or timezone.now()) - timedelta(days=days)
    return delete_in_batches(
        RequestLog.objects.filter(created_at__lt=cutoff), batch_size=batch_size
    )


def purge_old_data(*, now: datetime | None = None, batch_size: int | None = None) -> dict:
    """Run every retention purge; return the number of rows each deleted."""
    from jobs.services import jobs_purge_finished

    now = now or timezone.now()
    counts = {
        "usage_hourly": usage_purge(now=now, batch_size=batch_size),
        "request_log": request_log_purge(now=now, batch_size=batch_size),
        "jobs": jobs_purge_finished(now=now, batch_size=batch_size),
    }
    if any(counts.values()):
        logger.info("Purged old data: %s", counts)
    return counts
