"""The one outbound delivery engine: claim, attempt, retry on a schedule, fail after the last.

Every delivery model that subclasses ``webhooks.models.Outbox`` is sent here: job webhooks
(``WebhookDelivery``) and alert deliveries (webhook, Slack and email) alike. The engine knows a
model only by what ``Outbox`` declares: the foreign key of its destination and the dotted path
of its ``send(delivery) -> Attempt``. So this app never imports the apps above it.

- **One attempt once.** An attempt is claimed with one conditional UPDATE that counts it and
  holds the delivery for the deadline and a margin: of two workers one sends, and a worker that
  dies mid-send leaves the delivery due again afterwards.
- **One worker per destination.** Work is handed out per destination (an endpoint, an alert
  rule) under a lease (``webhooks.leases``): the worker holding it sends that destination's due
  deliveries one after another, so a hanging receiver holds one worker and delays only its own.
- **Retries on time.** After a failed attempt the delivery is due again after
  ``WEBHOOKS_RETRY_SCHEDULE_SECONDS[attempt - 1]``; ``manage.py dispatch_outbound`` looks for due
  deliveries every ``WEBHOOKS_DISPATCH_SECONDS`` (one indexed query per outbox when idle) and
  queues their destinations. The minute sweep (``webhooks_deliver_due``) is the fallback.
- **One status vocabulary**: ``pending``, ``succeeded``, ``failed``.

A job webhook attempt POSTs the delivery's fixed JSON body through ``perceptis.outbound`` with
``webhook-id`` (the delivery's ``msg_…`` id, the same on every attempt), ``webhook-timestamp``
(this attempt's Unix time) and ``webhook-signature`` (``v1,<base64 HMAC-SHA256>`` of
``"<id>.<timestamp>.<body>"`` under each signing secret, space-separated). A 2xx answer is
success; any other answer, a timeout, a refused address or a failed connection is a failed
attempt.
"""

import json
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.apps import apps
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.module_loading import import_string
from standardwebhooks.webhooks import Webhook

from perceptis import outbound
from perceptis.queues import OUTBOUND_CLUSTER
from webhooks.attempts import attempt_record
from webhooks.leases import lease_extend, lease_release, lease_take, leased
from webhooks.models import Outbox, WebhookDelivery, WebhookEndpoint

logger = logging.getLogger(__name__)

USER_AGENT = "Perceptis-Webhooks/1.0"
Status = Outbox.Status
# How long a claimed attempt holds its delivery beyond the deadline: if the worker dies
# mid-send, the delivery is due again after this, and no other worker sends it meanwhile.
CLAIM_MARGIN_SECONDS = 60
# A destination queued for a worker is held this long for it; if the message is lost, the
# destination is free again after this and the dispatcher queues it once more.
QUEUED_HOLD_SECONDS = 30
# A worker (or the sweep) stops starting attempts after this long and hands the rest on.
SWEEP_BUDGET_SECONDS = 45


@dataclass(frozen=True)
class Attempt:
    """What one attempt came to: the receiver's HTTP status and an error safe to show."""

    status: int | None = None
    error: str = ""  # empty: delivered
    body: bytes = b""  # the start of the receiver's answer, for the delivery page
    give_up: bool = False  # no further attempt (the destination is gone or disabled)


def max_attempts() -> int:
    return len(settings.WEBHOOKS_RETRY_SCHEDULE_SECONDS) + 1


def retry_delay(attempt: int) -> timedelta | None:
    """Return the wait after failed attempt number ``attempt``, or None after the last."""
    schedule = settings.WEBHOOKS_RETRY_SCHEDULE_SECONDS
    if attempt > len(schedule):
        return None
    return timedelta(seconds=schedule[attempt - 1])


# --- Sending one attempt ----------------------------------------------------------------------


def standard_webhook_signature(secrets: list[str], msg_id: str, sent_at: datetime, body: str):
    """Return ``webhook-signature``: one ``v1,…`` signature per secret, space-separated."""
    return " ".join(
        Webhook(secret).sign(msg_id=msg_id, timestamp=sent_at, data=body) for secret in secrets
    )


def standard_webhook_headers(secrets: list[str], msg_id: str, body: str) -> dict:
    """Return the Standard Webhooks headers of one attempt sent now."""
    sent_at = timezone.now()
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(sent_at.timestamp())),
        "webhook-signature": standard_webhook_signature(secrets, msg_id, sent_at, body),
    }


def signature_header(endpoint: WebhookEndpoint, msg_id: str, sent_at: datetime, body: str) -> str:
    """Return an endpoint's ``webhook-signature``: one per secret that signs at ``sent_at``."""
    return standard_webhook_signature(endpoint.signing_secrets(sent_at), msg_id, sent_at, body)


def post(url: str, body: bytes, headers: dict, *, user_agent: str) -> Attempt:
    """POST a JSON body once through the one outbound client, within the one deadline."""
    try:
        answer = outbound.post(
            url,
            body=body,
            headers={"Content-Type": "application/json", "User-Agent": user_agent, **headers},
            deadline=settings.WEBHOOKS_DEADLINE_SECONDS,
        )
    except outbound.OutboundError as exc:
        return Attempt(status=exc.status, error=str(exc), body=exc.body)
    return Attempt(status=answer.status, body=answer.body)


def webhook_send(delivery: WebhookDelivery) -> Attempt:
    """Send a job webhook delivery once, signed for its endpoint (Standard Webhooks)."""
    endpoint = delivery.endpoint
    if not endpoint.enabled:
        return Attempt(error="Endpoint disabled.", give_up=True)
    body = json.dumps(delivery.payload, separators=(",", ":"))
    headers = standard_webhook_headers(
        endpoint.signing_secrets(timezone.now()), delivery.public_id, body
    )
    return post(endpoint.url, body.encode(), headers, user_agent=USER_AGENT)


# --- One delivery -----------------------------------------------------------------------------


def _claim(delivery: Outbox, now: datetime) -> bool:
    # One conditional UPDATE: of two workers holding the same delivery, one moves it.
    hold = settings.WEBHOOKS_DEADLINE_SECONDS + CLAIM_MARGIN_SECONDS
    return bool(
        type(delivery)
        .objects.filter(
            pk=delivery.pk,
            status=Status.PENDING,
            attempts=delivery.attempts,
            next_attempt_at__lte=now,
        )
        .update(attempts=F("attempts") + 1, next_attempt_at=now + timedelta(seconds=hold))
    )


def _attempt(model: type[Outbox], delivery: Outbox) -> Attempt:
    try:
        return import_string(model.sender)(delivery)
    except Exception as exc:
        logger.exception(
            "%s %s failed unexpectedly", model._meta.verbose_name.capitalize(), delivery
        )
        return Attempt(error=f"Unexpected error: {type(exc).__name__}")


def delivery_attempt(delivery: Outbox, *, now: datetime | None = None) -> str | None:
    """Claim the delivery if it is due, attempt it once and record the outcome.

    Return its new status, or None when it was not due or another worker claimed it first.
    """
    now = now or timezone.now()
    model = type(delivery)
    if delivery.status != Status.PENDING:
        return None
    if delivery.next_attempt_at is None or delivery.next_attempt_at > now:
        return None
    if delivery.attempts >= max_attempts():
        # The last attempt's worker died before recording it.
        model.objects.filter(pk=delivery.pk, status=Status.PENDING).update(
            status=Status.FAILED, next_attempt_at=None
        )
        return Status.FAILED
    if not _claim(delivery, now):
        return None
    attempt = delivery.attempts + 1
    started = time.monotonic()
    outcome = _attempt(model, delivery)
    finished = timezone.now()
    duration_ms = int((time.monotonic() - started) * 1000)
    if isinstance(delivery, WebhookDelivery):
        # Job webhooks keep each attempt for the delivery page (status, duration, first 2 KB).
        recorded = attempt_record(
            delivery=delivery, number=attempt, finished_at=finished, duration_ms=duration_ms,
            response_status=outcome.status, response_body=outcome.body, error=outcome.error,
        )  # fmt: skip
        if recorded is None:
            return None  # deleted with its endpoint during the attempt: nothing left to record
    record = {
        "last_attempt_at": finished,
        "last_response_status": outcome.status,
        "last_duration_ms": duration_ms,
        "last_error": outcome.error[: model._meta.get_field("last_error").max_length],
    }
    fence = model.objects.filter(pk=delivery.pk, status=Status.PENDING, attempts=attempt)
    if not outcome.error:
        fence.update(status=Status.SUCCEEDED, delivered_at=finished, next_attempt_at=None, **record)
        return Status.SUCCEEDED
    what = model._meta.verbose_name.capitalize()
    logger.warning("%s %s attempt %d failed: %s", what, delivery, attempt, outcome.error)
    delay = None if outcome.give_up else retry_delay(attempt)
    if delay is None:
        fence.update(status=Status.FAILED, next_attempt_at=None, **record)
        return Status.FAILED
    fence.update(next_attempt_at=max(now, finished) + delay, **record)
    return Status.PENDING


def webhook_deliver(*, delivery_id: int, now: datetime | None = None) -> str | None:
    """Attempt one job webhook delivery now if it is due (see ``delivery_attempt``)."""
    delivery = WebhookDelivery.objects.select_related("endpoint").filter(pk=delivery_id).first()
    if delivery is None:
        return None
    return delivery_attempt(delivery, now=now)


def delivery_requeue(*, delivery: Outbox, now: datetime | None = None) -> bool:
    """Make a pending or failed delivery due now and queue it; return whether it moved.

    A succeeded delivery is left alone. A failed one that used its attempts gets one more (and
    fails again if that one fails). The send happens on an outbound worker, never here.
    """
    now = now or timezone.now()
    moved = (
        type(delivery)
        .objects.filter(pk=delivery.pk, status__in=[Status.PENDING, Status.FAILED])
        .update(
            status=Status.PENDING,
            next_attempt_at=now,
            attempts=min(delivery.attempts, max_attempts() - 1),
        )
    )
    if moved:
        transaction.on_commit(lambda: outbox_enqueue([delivery]))
    return bool(moved)


# --- Destinations: one worker each ------------------------------------------------------------


def outbox_models() -> list[type[Outbox]]:
    """Return every installed delivery model the engine sends."""
    return [m for m in apps.get_models() if issubclass(m, Outbox)]


def _attname(model: type[Outbox]) -> str:
    return model._meta.get_field(model.destination_field).attname


def destination_key(model: type[Outbox], destination_id) -> str:
    return f"{model._meta.label_lower}:{destination_id}"


def _due(model: type[Outbox], now: datetime):
    return model.objects.filter(status=Status.PENDING, next_attempt_at__lte=now)


def destination_deliver(
    *,
    model: type[Outbox],
    destination_id,
    token: str,
    now: datetime | None = None,
    budget: float = SWEEP_BUDGET_SECONDS,
) -> dict:
    """Send the destination's due deliveries one after another, holding its lease; release it.

    ``token`` is the lease taken when the destination was queued (or by the sweep); a worker
    whose lease went to another sends nothing. ``now`` fixes the moment deliveries are due by
    (default: the clock at each one). After ``budget`` seconds the rest is queued again, behind
    other destinations' work. Return counts by outcome.
    """
    key = destination_key(model, destination_id)
    hold = timedelta(seconds=settings.WEBHOOKS_DEADLINE_SECONDS + CLAIM_MARGIN_SECONDS)
    counts = {str(s): 0 for s in (Status.SUCCEEDED, Status.PENDING, Status.FAILED)}
    started, tried, more = time.monotonic(), set(), False
    try:
        while lease_extend(destination=key, token=token, until=timezone.now() + hold):
            moment = now or timezone.now()
            delivery = (
                _due(model, moment)
                .filter(**{_attname(model): destination_id})
                .exclude(pk__in=tried)
                .select_related(model.destination_field)
                .order_by("next_attempt_at", "pk")
                .first()
            )
            if delivery is None:
                break
            if time.monotonic() - started > budget:
                more = True
                break
            tried.add(delivery.pk)
            outcome = delivery_attempt(delivery, now=moment)
            if outcome is not None:
                counts[str(outcome)] += 1
    finally:
        lease_release(destination=key, token=token)
    if more:
        _queue(model, destination_id, timezone.now())
    return counts


def _queue(model: type[Outbox], destination_id, now: datetime) -> bool:
    """Take the destination's lease for a worker and queue it; return whether it was queued."""
    from django_q.tasks import async_task

    key = destination_key(model, destination_id)
    token = lease_take(destination=key, until=now + timedelta(seconds=QUEUED_HOLD_SECONDS), now=now)
    if token is None:
        return False  # A worker holds it and sends its due deliveries, this one included.
    try:
        async_task(
            "webhooks.tasks.deliver_to_destination",
            model._meta.label,
            destination_id,
            token,
            cluster=OUTBOUND_CLUSTER,
            group="outbound",
        )
    except Exception:
        # The rows are committed and due: the dispatcher or the sweep sends them.
        logger.warning("Outbound work for %s not queued; the sweep sends it", key)
        lease_release(destination=key, token=token)
        return False
    return True


def outbox_enqueue(deliveries: list[Outbox]) -> None:
    """Queue the destinations of new or due deliveries for an outbound worker, now.

    Call it after commit (``transaction.on_commit``): the rows must be visible to the worker.
    """
    now = timezone.now()
    seen = set()
    for delivery in deliveries:
        model = type(delivery)
        destination_id = getattr(delivery, _attname(model))
        if (model, destination_id) in seen:
            continue
        seen.add((model, destination_id))
        try:
            _queue(model, destination_id, now)
        except Exception:
            # After commit the change stands whatever happens here; the rows are due.
            logger.warning("Outbound work for %s not queued; the sweep sends it", destination_id)


def _due_destinations(now: datetime, limit: int):
    for model in outbox_models():
        ids = list(_due(model, now).values_list(_attname(model), flat=True).distinct()[:limit])
        if not ids:
            continue  # Idle: one indexed query, nothing else.
        held = leased(destinations=[destination_key(model, i) for i in ids], now=now)
        for destination_id in ids:
            if destination_key(model, destination_id) not in held:
                yield model, destination_id


def outbox_dispatch_due(*, now: datetime | None = None, limit: int = 500) -> int:
    """Queue every destination that has a due delivery and no worker; return how many."""
    now = now or timezone.now()
    return sum(_queue(model, i, now) for model, i in list(_due_destinations(now, limit)))


def webhooks_deliver_due(*, now: datetime | None = None, limit: int = 500) -> dict:
    """Send the due deliveries of every outbox here, one destination at a time; return counts.

    The fallback sweep (every minute on the outbound cluster) for when no dispatcher runs:
    destinations held by a worker are left to it. It starts no destination after
    ``SWEEP_BUDGET_SECONDS``; the next sweep continues.
    """
    now = now or timezone.now()
    counts = {str(s): 0 for s in (Status.SUCCEEDED, Status.PENDING, Status.FAILED)}
    hold = timedelta(seconds=settings.WEBHOOKS_DEADLINE_SECONDS + CLAIM_MARGIN_SECONDS)
    started = time.monotonic()
    for model, destination_id in list(_due_destinations(now, limit)):
        remaining = SWEEP_BUDGET_SECONDS - (time.monotonic() - started)
        if remaining <= 0:
            break
        moment = timezone.now()
        key = destination_key(model, destination_id)
        token = lease_take(destination=key, until=moment + hold, now=moment)
        if token is None:
            continue
        done = destination_deliver(
            model=model, destination_id=destination_id, token=token, now=now, budget=remaining
        )
        for outcome, n in done.items():
            counts[outcome] += n
    return counts
