"""The record of each delivery attempt, for the delivery page: status, duration, first 2 KB."""

from datetime import datetime, timedelta

from django.db import IntegrityError, transaction

from webhooks.models import WebhookAttempt, WebhookDelivery


def attempt_record(
    *,
    delivery: WebhookDelivery,
    number: int,
    finished_at: datetime,
    duration_ms: int,
    response_status: int | None,
    response_body: bytes,
    error: str,
) -> WebhookAttempt | None:
    """Store one attempt of ``delivery``; keep only the first 2 KB of the receiver's answer.

    The body is the receiver's own text (shown to the organization that owns the endpoint);
    the request we sent is the delivery's payload, so no secret is stored here. Return None
    when the delivery is gone: its endpoint was deleted while the attempt was under way.
    """
    body = response_body[: WebhookAttempt.BODY_BYTES].decode("utf-8", errors="replace")
    try:
        with transaction.atomic():
            return WebhookAttempt.objects.create(
                delivery=delivery,
                number=number,
                started_at=finished_at - timedelta(milliseconds=duration_ms),
                duration_ms=duration_ms,
                response_status=response_status,
                # PostgreSQL refuses NUL in text.
                response_body=body.replace("\x00", "\ufffd"),
                error=error[:300],
                succeeded=not error,
            )
    except IntegrityError:
        if WebhookDelivery.objects.filter(pk=delivery.pk).exists():
            raise
        return None
