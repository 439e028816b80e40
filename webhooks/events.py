"""Publish an event to an organization's webhook endpoints (the outbox side).

``event_publish`` only inserts rows, in the caller's transaction: one delivery per enabled
endpoint of the environment that subscribes to the event. So a delivery exists if and only if
the change it reports committed, and the caller (a job's terminal transition) is never delayed
by a receiver. After commit each delivery's first attempt is queued on the outbound cluster;
if that message is lost, the sweep (``webhooks.delivery.webhooks_deliver_due``) sends it.
"""

import logging
from datetime import UTC, datetime

from django.db import transaction
from django.utils import timezone

from accounts.models import Organization
from perceptis.configuration import OUTBOUND_CLUSTER
from webhooks.models import WebhookDelivery, WebhookEndpoint

logger = logging.getLogger(__name__)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def event_publish(
    *,
    organization: Organization,
    environment: str,
    type: str,
    data: dict,
    now=None,
    endpoint: WebhookEndpoint | None = None,
) -> list[WebhookDelivery]:
    """Record ``type`` with ``data`` for each matching endpoint; return the deliveries made.

    The body each endpoint receives is ``{"type", "timestamp", "data"}``, fixed now, so every
    attempt sends the same document. Given ``endpoint`` (a test event), only that endpoint
    receives it, whatever events it subscribes to.
    """
    now = now or timezone.now()
    endpoints = WebhookEndpoint.objects.filter(
        organization=organization, environment=environment, enabled=True
    ).only("pk", "events")
    if endpoint is not None:
        endpoints = endpoints.filter(pk=endpoint.pk)
    payload = {"type": type, "timestamp": _iso(now), "data": data}
    deliveries = [
        WebhookDelivery.objects.create(
            endpoint=target, event_type=type, payload=payload, next_attempt_at=now, created_at=now
        )
        for target in endpoints
        if endpoint is not None or type in target.events
    ]
    deliveries_enqueue([d.pk for d in deliveries])
    return deliveries


def deliveries_enqueue(delivery_ids: list[int]) -> None:
    """Queue the next attempt of each delivery on the outbound cluster once the caller's
    transaction commits (the sweep sends any whose message is lost)."""
    if delivery_ids:
        transaction.on_commit(lambda: _enqueue(delivery_ids))


def _enqueue(delivery_ids: list[int]) -> None:
    from django_q.tasks import async_task

    for delivery_id in delivery_ids:
        try:
            async_task(
                "webhooks.tasks.deliver_webhook",
                delivery_id,
                cluster=OUTBOUND_CLUSTER,
                group="webhooks",
            )
        except Exception:
            # The change has committed and the row is due: the sweep delivers it.
            logger.warning("Webhook delivery %s not queued; the sweep sends it", delivery_id)
