"""Publish an event to an organization's webhook endpoints (the outbox side).

``event_publish`` only inserts rows, in the caller's transaction: one delivery per enabled
endpoint of the environment and the project (or of every project) that subscribes to the event.
So a delivery exists if and only if the change it reports committed, and the caller (a job's
terminal transition) is never delayed by a receiver. After commit each endpoint's deliveries are
queued on the outbound cluster (``webhooks.delivery.outbox_enqueue``); if that message is lost,
the dispatcher or the sweep sends them.
"""

from datetime import UTC, datetime

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import Organization
from webhooks.delivery import outbox_enqueue
from webhooks.models import WebhookDelivery, WebhookEndpoint


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def event_publish(
    *,
    organization: Organization,
    environment: str,
    type: str,
    data: dict,
    project: str | None = None,
    now=None,
    endpoint: WebhookEndpoint | None = None,
) -> list[WebhookDelivery]:
    """Record ``type`` with ``data`` for each matching endpoint; return the deliveries made.

    An event of ``project`` (a ``proj_…`` id: the job's or the key's) goes to that project's
    endpoints and to those of every project; one of no project only to the latter. The body
    each endpoint receives is ``{"type", "timestamp", "data"}``, fixed now, so every attempt
    sends the same document. Given ``endpoint`` (a test event), only that endpoint receives it,
    whatever events it subscribes to.
    """
    now = now or timezone.now()
    endpoints = WebhookEndpoint.objects.filter(
        organization=organization, environment=environment, enabled=True
    ).only("pk", "events")
    if endpoint is not None:
        endpoints = endpoints.filter(pk=endpoint.pk)
    else:
        endpoints = endpoints.filter(Q(project__isnull=True) | Q(project_id=project))
    payload = {"type": type, "timestamp": _iso(now), "data": data}
    deliveries = [
        WebhookDelivery.objects.create(
            endpoint=target, event_type=type, payload=payload, next_attempt_at=now, created_at=now
        )
        for target in endpoints
        if endpoint is not None or type in target.events
    ]
    if deliveries:
        transaction.on_commit(lambda: outbox_enqueue(deliveries))
    return deliveries
