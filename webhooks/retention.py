"""Retention of the deliveries log: finished deliveries are purged past an age."""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from perceptis.db import delete_in_batches
from webhooks.models import WebhookDelivery


def webhookdelivery_purge(*, now=None, batch_size: int | None = None) -> int:
    """Delete deliveries made more than ``WEBHOOKS_RETENTION_DAYS`` ago (0: keep them all).

    Pending deliveries are kept whatever their age: they still have attempts to make.
    """
    days = settings.WEBHOOKS_RETENTION_DAYS
    if days <= 0:
        return 0
    cutoff = (now or timezone.now()) - timedelta(days=days)
    old = WebhookDelivery.objects.filter(created_at__lt=cutoff).exclude(
        status=WebhookDelivery.Status.PENDING
    )
    return delete_in_batches(old, batch_size=batch_size)
