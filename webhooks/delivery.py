"""Send webhook deliveries as Standard Webhooks messages, retrying on a schedule.

Each attempt POSTs the delivery's fixed JSON body through ``perceptis.outbound`` with
``webhook-id`` (the delivery's ``msg_…`` id, the same on every attempt), ``webhook-timestamp``
(this attempt's Unix time) and ``webhook-signature`` (``v1,<base64 HMAC-SHA256>`` of
``"<id>.<timestamp>.<body>"`` under each signing secret, space-separated). A 2xx answer is
success; any other answer, a timeout, a refused address or a failed connection is a failed
attempt, retried after ``WEBHOOKS_RETRY_SCHEDULE_SECONDS`` and failed for good after the last.
"""

import json
import logging
import time
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import F
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from perceptis import outbound
from webhooks.attempts import attempt_record
from webhooks.models import WebhookDelivery, WebhookEndpoint

logger = logging.getLogger(__name__)

USER_AGENT = "Perceptis-Webhooks/1.0"
Status = WebhookDelivery.Status
# How long a claimed attempt holds its delivery beyond the deadline: if the worker dies
# mid-send, the delivery is due again after this, and no other worker sends it meanwhile.
CLAIM_MARGIN_SECONDS = 60
# The sweep stops starting attempts after this long, well within its schedule's interval.
SWEEP_BUDGET_SECONDS = 45


def max_attempts() -> int:
    return len(settings.WEBHOOKS_RETRY_SCHEDULE_SECONDS) + 1


def retry_delay(attempt: int) -> timedelta | None:
    """Return the wait after failed attempt number ``attempt``, or None after the last."""
    schedule = settings.WEBHOOKS_RETRY_SCHEDULE_SECONDS
    if attempt > len(schedule):
        return None
    return timedelta(seconds=schedule[attempt - 1])


def signature_header(endpoint: WebhookEndpoint, msg_id: str, sent_at: datetime, body: str) -> str:
    """Return ``webhook-signature``: one ``v1,…`` signature per secret that signs now."""
    return " ".join(
        Webhook(secret).sign(msg_id=msg_id, timestamp=sent_at, data=body)
        for secret in endpoint.signing_secrets(sent_at)
    )


def webhooks_deliver_due(*, now: datetime | None = None, limit: int = 500) -> dict:
    """Attempt pending deliveries that are due, oldest first; return counts by outcome."""
    now = now or timezone.now()
    due = (
        WebhookDelivery.objects.filter(status=Status.PENDING, next_attempt_at__lte=now)
        .order_by("next_attempt_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    counts = {Status.SUCCEEDED: 0, Status.PENDING: 0, Status.FAILED: 0}
    started = time.monotonic()
    for pk in list(due):
        if time.monotonic() - started > SWEEP_BUDGET_SECONDS:
            break  # The next sweep continues; slow receivers cannot hold it for long.
        outcome = webhook_deliver(delivery_id=pk, now=now)
        if outcome is not None:
            counts[outcome] += 1
    return {str(k): v for k, v in counts.items()}


def _claim(delivery: WebhookDelivery, now: datetime) -> bool:
    # One conditional UPDATE: of two workers holding the same delivery, one moves it.
    hold = settings.WEBHOOKS_DEADLINE_SECONDS + CLAIM_MARGIN_SECONDS
    return bool(
        WebhookDelivery.objects.filter(
            pk=delivery.pk,
            status=Status.PENDING,
            attempts=delivery.attempts,
            next_attempt_at__lte=now,
        ).update(attempts=F("attempts") + 1, next_attempt_at=now + timedelta(seconds=hold))
    )


def webhook_deliver(*, delivery_id: int, now: datetime | None = None) -> str | None:
    """Claim the delivery if it is due, attempt it once and record the outcome.

    Return its new status, or None when it was not due or another worker claimed it first.
    """
    now = now or timezone.now()
    delivery = WebhookDelivery.objects.select_related("endpoint").filter(pk=delivery_id).first()
    if delivery is None or delivery.status != Status.PENDING:
        return None
    if delivery.next_attempt_at is None or delivery.next_attempt_at > now:
        return None
    pending = WebhookDelivery.objects.filter(pk=delivery.pk, status=Status.PENDING)
    if not delivery.endpoint.enabled:
        pending.update(status=Status.FAILED, next_attempt_at=None, last_error="Endpoint disabled.")
        return Status.FAILED
    if delivery.attempts >= max_attempts():
        # The last attempt's worker died before recording it.
        pending.update(status=Status.FAILED, next_attempt_at=None)
        return Status.FAILED
    if not _claim(delivery, now):
        return None
    attempt = delivery.attempts + 1
    response_status, error, duration_ms, answer = _send(delivery)
    finished = timezone.now()
    attempt_record(
        delivery=delivery, number=attempt, finished_at=finished, duration_ms=duration_ms,
        response_status=response_status, response_body=answer, error=error,
    )  # fmt: skip
    record = {
        "last_attempt_at": finished,
        "last_response_status": response_status,
        "last_duration_ms": duration_ms,
        "last_error": error[:300],
    }
    fence = WebhookDelivery.objects.filter(pk=delivery.pk, status=Status.PENDING, attempts=attempt)
    if not error:
        fence.update(status=Status.SUCCEEDED, delivered_at=finished, next_attempt_at=None, **record)
        return Status.SUCCEEDED
    logger.warning("Webhook delivery %s attempt %d failed: %s", delivery.public_id, attempt, error)
    delay = retry_delay(attempt)
    if delay is None:
        fence.update(status=Status.FAILED, next_attempt_at=None, **record)
        return Status.FAILED
    fence.update(next_attempt_at=max(now, finished) + delay, **record)
    return Status.PENDING


def _send(delivery: WebhookDelivery) -> tuple[int | None, str, int, bytes]:
    """POST the delivery once; return (response status, error or "", milliseconds, answer)."""
    body = json.dumps(delivery.payload, separators=(",", ":"))
    sent_at = timezone.now()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "webhook-id": delivery.public_id,
        "webhook-timestamp": str(int(sent_at.timestamp())),
        "webhook-signature": signature_header(delivery.endpoint, delivery.public_id, sent_at, body),
    }
    started = time.monotonic()
    try:
        answer = outbound.post(
            delivery.endpoint.url,
            body=body.encode(),
            headers=headers,
            deadline=settings.WEBHOOKS_DEADLINE_SECONDS,
        )
        status, error, received = answer.status, "", answer.body
    except outbound.OutboundError as exc:
        status, error, received = exc.status, str(exc), exc.body
    except Exception as exc:
        logger.exception("Webhook delivery %s failed unexpectedly", delivery.public_id)
        status, error, received = None, f"Unexpected error: {type(exc).__name__}", b""
    return status, error, int((time.monotonic() - started) * 1000), received
