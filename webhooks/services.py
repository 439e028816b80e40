"""Register, change, rotate and delete an organization's webhook endpoints.

Each function takes the ``actor`` who caused the change and writes the audit row in the same
transaction; the signing secret never goes into an audit row, a log line or an error. Invalid
input is refused with ``InvalidRequest`` carrying every field's error.
"""

import base64
import secrets
from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.audit import Actor, audit_record
from accounts.models import Organization
from apikeys.keys.projects import key_project
from perceptis.errors import InvalidRequest
from perceptis.validation import clean_fields
from webhooks.delivery import max_attempts, outbox_enqueue
from webhooks.errors import WebhookEndpointDisabled, WebhookLimitReached
from webhooks.events import event_publish
from webhooks.models import WebhookDelivery, WebhookEndpoint
from webhooks.validation import (
    clean_description,
    clean_enabled,
    clean_environment,
    clean_events,
    clean_url,
)

# The fields of an endpoint that people set (create, update; the API and the pages).
ENDPOINT_FIELDS = ("url", "events", "description", "enabled")


def new_signing_secret() -> str:
    """Return a fresh Standard Webhooks secret: ``whsec_`` and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def _shown_url(url: str) -> str:
    # A URL's path or query can carry the receiver's own token: audit rows keep the origin.
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/…"


def webhookendpoint_clean(**fields) -> dict:
    """Return the cleaned fields given (``ENDPOINT_FIELDS`` and ``environment``), or raise
    ``InvalidRequest`` with every field's error."""
    checks = {
        "environment": lambda: clean_environment(fields.get("environment")),
        "url": lambda: clean_url(fields.get("url")),
        "events": lambda: clean_events(fields.get("events")),
        "description": lambda: clean_description(fields.get("description")),
        "enabled": lambda: clean_enabled(fields.get("enabled")),
    }
    return clean_fields({name: check for name, check in checks.items() if name in fields})


@transaction.atomic
def webhookendpoint_create(
    *,
    organization: Organization,
    environment: str,
    actor: Actor,
    url: str,
    events: list[str],
    description: str = "",
    enabled: bool = True,
    project: str | None = None,
) -> tuple[WebhookEndpoint, str]:
    """Register an endpoint; return it and its signing secret (the only time it is shown).

    With ``project`` (an open project's ``proj_…`` id, checked and locked as a key's project
    is: an acting key names only its own) it receives that project's events only, else every
    project's. At most ``WEBHOOKS_MAX_ENDPOINTS`` per organization
    (``WebhookLimitReached``); the organization's row is locked while counting, so concurrent
    creations cannot pass the cap.
    """
    cleaned = webhookendpoint_clean(
        environment=environment, url=url, events=events, description=description, enabled=enabled
    )
    Organization.objects.select_for_update().filter(pk=organization.pk).first()
    target = None
    if project is not None:
        checks = {
            "project": lambda: key_project(organization=organization, project=project, actor=actor)
        }
        target = clean_fields(checks)["project"]
    limit = settings.WEBHOOKS_MAX_ENDPOINTS
    if WebhookEndpoint.objects.filter(organization=organization).count() >= limit:
        raise WebhookLimitReached(f"An organization has at most {limit} webhook endpoints.")
    secret = new_signing_secret()
    endpoint = WebhookEndpoint.objects.create(
        organization=organization,
        project=target,
        created_by=actor.user,
        secret=secret,
        **cleaned,
    )
    audit_record(
        actor=actor,
        action="webhook_endpoint.created",
        organization=organization,
        target=endpoint,
        metadata={
            "url": _shown_url(endpoint.url),
            "environment": endpoint.environment,
            "project": endpoint.project_id,
            "events": endpoint.events,
            "enabled": endpoint.enabled,
        },
    )
    return endpoint, secret


@transaction.atomic
def webhookendpoint_update(*, endpoint: WebhookEndpoint, actor: Actor, **changes):
    """Change the fields given (of ``ENDPOINT_FIELDS``); return the endpoint.

    Disabling an endpoint ends its pending deliveries as failed: nothing more is sent to it.
    """
    unknown = sorted(set(changes) - set(ENDPOINT_FIELDS))
    if unknown:
        raise InvalidRequest(
            "Unknown fields.", fields={f[:64]: ["This field cannot be changed."] for f in unknown}
        )
    cleaned = webhookendpoint_clean(**changes)
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    diff = {}
    for field, value in cleaned.items():
        old = getattr(endpoint, field)
        if old != value:
            shown = _shown_url if field == "url" else (lambda v: v)
            diff[field] = {"from": shown(old), "to": shown(value)}
            setattr(endpoint, field, value)
    if diff:
        endpoint.updated_at = timezone.now()
        endpoint.save()
        if not endpoint.enabled:
            _stop_pending(endpoint, "The endpoint was disabled.")
        audit_record(
            actor=actor,
            action="webhook_endpoint.updated",
            organization=endpoint.organization,
            target=endpoint,
            metadata={"changes": diff},
        )
    return endpoint


def _stop_pending(endpoint: WebhookEndpoint, reason: str) -> None:
    WebhookDelivery.objects.filter(endpoint=endpoint, status=WebhookDelivery.Status.PENDING).update(
        status=WebhookDelivery.Status.FAILED, next_attempt_at=None, last_error=reason
    )


@transaction.atomic
def webhookendpoint_rotate_secret(
    *, endpoint: WebhookEndpoint, actor: Actor, now=None
) -> tuple[WebhookEndpoint, str]:
    """Give the endpoint a new signing secret; return it and the secret (shown only now).

    For ``WEBHOOKS_PREVIOUS_SECRET_HOURS`` (24) the old secret keeps signing too: each delivery
    carries both signatures, so a receiver still checking the old secret loses nothing while it
    switches. A second rotation within that time ends the first one's old secret.
    """
    now = now or timezone.now()
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    secret = new_signing_secret()
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_expires_at = now + timedelta(
        hours=settings.WEBHOOKS_PREVIOUS_SECRET_HOURS
    )
    endpoint.secret = secret
    endpoint.updated_at = now
    endpoint.save()
    audit_record(
        actor=actor,
        action="webhook_endpoint.secret_rotated",
        organization=endpoint.organization,
        target=endpoint,
        metadata={"previous_secret_signs_until": endpoint.previous_secret_expires_at.isoformat()},
    )
    return endpoint, secret


@transaction.atomic
def webhookendpoint_delete(*, endpoint: WebhookEndpoint, actor: Actor) -> None:
    """Delete the endpoint and its deliveries (pending ones are never sent)."""
    audit_record(
        actor=actor,
        action="webhook_endpoint.deleted",
        organization=endpoint.organization,
        target=endpoint,
        metadata={"url": _shown_url(endpoint.url), "environment": endpoint.environment},
    )
    endpoint.delete()


# The event a person sends from the endpoint's page to check their receiver.
TEST_EVENT = "webhook.test"


@transaction.atomic
def webhookendpoint_send_test(*, endpoint: WebhookEndpoint, actor: Actor) -> WebhookDelivery:
    """Send ``webhook.test`` to this endpoint only, through the outbox like any event: same
    signing, same retries. A disabled endpoint is refused (``WebhookEndpointDisabled``)."""
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    if not endpoint.enabled:
        raise WebhookEndpointDisabled()
    (delivery,) = event_publish(
        organization=endpoint.organization,
        environment=endpoint.environment,
        type=TEST_EVENT,
        data={
            "endpoint_id": endpoint.public_id,
            "message": "A test event sent from Developer Settings.",
        },
        endpoint=endpoint,
    )
    audit_record(
        actor=actor,
        action="webhook_endpoint.test_sent",
        organization=endpoint.organization,
        target=endpoint,
        metadata={"message_id": delivery.public_id},
    )
    return delivery


@transaction.atomic
def webhookdelivery_resend(*, delivery: WebhookDelivery, actor: Actor, now=None) -> WebhookDelivery:
    """Attempt the delivery again now, with the same ``webhook-id`` and body.

    A delivery waiting for its retry is simply due now. A finished one (succeeded or failed)
    is pending again with at least one attempt left: should the new attempt fail, it retries
    on what remains of the schedule. Every attempt stays on record.
    """
    now = now or timezone.now()
    delivery = (
        WebhookDelivery.objects.select_for_update().select_related("endpoint").get(pk=delivery.pk)
    )
    if not delivery.endpoint.enabled:
        raise WebhookEndpointDisabled()
    Status = WebhookDelivery.Status
    previous = delivery.status
    if previous == Status.PENDING:
        # Not later than now; a worker holding a claim keeps it (its attempt count fences it).
        if delivery.next_attempt_at is None or delivery.next_attempt_at > now:
            delivery.next_attempt_at = now
    else:
        delivery.status = Status.PENDING
        delivery.next_attempt_at = now
        delivery.delivered_at = None
        delivery.attempts = min(delivery.attempts, max_attempts() - 1)
    delivery.save(update_fields=["status", "next_attempt_at", "delivered_at", "attempts"])
    audit_record(
        actor=actor,
        action="webhook_delivery.resent",
        organization=delivery.endpoint.organization,
        target=delivery.endpoint,
        metadata={"message_id": delivery.public_id, "previous_status": previous},
    )
    transaction.on_commit(lambda: outbox_enqueue([delivery]))
    return delivery
