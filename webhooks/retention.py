"""Retention of the deliveries logs: finished deliveries of every outbox are purged past an
age."""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from perceptis.db import delete_in_batches
from webhooks.models import Outbox, WebhookDelivery


def outbox_purge(queryset, *, made_field: str, now=None, batch_size: int | None = None) -> int:
    """Delete the finished deliveries of an outbox (``queryset``) made, by ``made_field``,
    more than ``WEBHOOKS_RETENTION_DAYS`` ago (0: keep them all).

    Pending deliveries are kept whatever their age: they still have attempts to make.
    """
    days = settings.WEBHOOKS_RETENTION_DAYS
    if days <= 0:
        return 0
    cutoff = (now or timezone.now()) - timedelta(days=days)
    old = queryset.filter(**{f"{made_field}__lt": cutoff}).exclude(status=Outbox.Status.PENDING)
    return delete_in_batches(old, batch_size=batch_size)


def webhookdelivery_purge(*, now=None, batch_size: int | None = None) -> int:
    """Delete finished job webhook deliveries past the retention age (``outbox_purge``)."""
    return outbox_purge(
        WebhookDelivery.objects.all(), made_field="created_at", now=now, batch_size=batch_size
    )
