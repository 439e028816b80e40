"""Purge old hourly usage and request-log rows, a batch at a time (``perceptis.db``).

The hourly schedule that runs these, and the jobs purge, is ``jobs.tasks.purge_old_data``.
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from apikeys.usage.models import RequestLog, UsageHourly
from perceptis.db import delete_in_batches


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
