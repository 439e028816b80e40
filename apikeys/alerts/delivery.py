"""Deliver firings by email, signed webhook or Slack, retrying with backoff."""

import hashlib
import hmac
import json
import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db.models import F
from django.utils import timezone

from apikeys.alerts.models import AlertDelivery, AlertRule
from perceptis import outbound

logger = logging.getLogger(__name__)


USER_AGENT = "Perceptis-Alerts/1.0"


class DeliveryError(Exception):
    """A delivery attempt failed; the message is safe to store and show (no secrets)."""


def retry_delay(attempt: int) -> timedelta:
    """Return the wait after failed attempt number ``attempt``: base * 2^(attempt-1), capped."""
    base = settings.APIKEYS_ALERT_RETRY_BASE_SECONDS
    seconds = min(base * 2 ** max(attempt - 1, 0), settings.APIKEYS_ALERT_RETRY_MAX_SECONDS)
    return timedelta(seconds=seconds)


def alerts_deliver_due(*, now: datetime | None = None, limit: int = 200) -> dict:
    """Attempt every pending delivery whose next attempt is due; return counts by outcome."""
    now = now or timezone.now()
    due = (
        AlertDelivery.objects.filter(status=AlertDelivery.Status.PENDING, next_attempt_at__lte=now)
        .order_by("next_attempt_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    counts = {"delivered": 0, "pending": 0, "failed": 0}
    for pk in list(due):
        status = alerts_deliver(delivery_id=pk, now=now)
        if status is not None:
            counts[status] += 1
    return counts


def alerts_deliver(*, delivery_id: int, now: datetime | None = None) -> str | None:
    """Claim the delivery if it is due, attempt it once and record the outcome.

    Return its new status, or None when it was not due or another worker claimed it first.
    """
    now = now or timezone.now()
    delivery = (
        AlertDelivery.objects.select_related("rule__organization", "rule__api_key")
        .filter(pk=delivery_id)
        .first()
    )
    if delivery is None or delivery.status != AlertDelivery.Status.PENDING:
        return None
    attempt = delivery.attempts + 1
    retry_at = now + retry_delay(attempt)
    # The claim sets the retry time up front: if this worker dies mid-send, the delivery is
    # simply due again later, and a concurrent worker's claim on the same attempt fails.
    claimed = AlertDelivery.objects.filter(
        pk=delivery.pk,
        status=AlertDelivery.Status.PENDING,
        attempts=delivery.attempts,
        next_attempt_at__lte=now,
    ).update(attempts=F("attempts") + 1, next_attempt_at=retry_at)
    if not claimed:
        return None
    try:
        send(delivery, now=now)
        error = None
    except DeliveryError as exc:
        error = str(exc)
    except Exception as exc:
        logger.exception("Alert delivery %s failed unexpectedly", delivery.pk)
        error = f"Unexpected error: {type(exc).__name__}"
    fence = AlertDelivery.objects.filter(pk=delivery.pk, attempts=attempt)
    if error is None:
        fence.update(
            status=AlertDelivery.Status.DELIVERED,
            delivered_at=now,
            next_attempt_at=None,
            last_error="",
        )
        return AlertDelivery.Status.DELIVERED
    logger.warning("Alert delivery %s attempt %d failed: %s", delivery.pk, attempt, error)
    if attempt >= settings.APIKEYS_ALERT_MAX_ATTEMPTS:
        fence.update(
            status=AlertDelivery.Status.FAILED, next_attempt_at=None, last_error=error[:500]
        )
        return AlertDelivery.Status.FAILED
    fence.update(last_error=error[:500])
    return AlertDelivery.Status.PENDING


# --- Channels -------------------------------------------------------------------------------


def send(delivery: AlertDelivery, *, now: datetime) -> None:
    """Send the delivery once through its rule's channel; raise ``DeliveryError`` on failure."""
    rule = delivery.rule
    if rule.channel == AlertRule.Channel.EMAIL:
        _send_email(rule, delivery)
    elif rule.channel == AlertRule.Channel.WEBHOOK:
        _send_webhook(rule, delivery, now=now)
    elif rule.channel == AlertRule.Channel.SLACK:
        _send_slack(rule, delivery)
    else:
        raise DeliveryError(f"Unknown channel {rule.channel!r}.")


def _send_email(rule: AlertRule, delivery: AlertDelivery) -> None:
    body = (
        f"{delivery.message}\n\n"
        f"Rule: {rule.name}\nOrganization: {rule.organization.name}\n"
        f"Fired at: {delivery.fired_at:%Y-%m-%d %H:%M} UTC\n\n"
        "You receive this because the address is set on an alert rule in Developer Settings."
    )
    try:
        send_mail(
            subject=f"[Perceptis] Alert: {rule.name}",
            message=body,
            from_email=None,
            recipient_list=[rule.destination],
            fail_silently=False,
        )
    except Exception as exc:
        raise DeliveryError(f"Email not sent: {type(exc).__name__}") from None


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """Return the hex HMAC-SHA256 of ``"{timestamp}.{body}"`` under the rule's secret."""
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def _send_webhook(rule: AlertRule, delivery: AlertDelivery, *, now: datetime) -> None:
    body = json.dumps(delivery.payload, separators=(",", ":"), sort_keys=True).encode()
    timestamp = str(int(now.timestamp()))
    # Stripe's scheme: the timestamp is signed with the body, so a captured request cannot be
    # replayed later by someone who cannot sign; receivers reject old timestamps.
    signature = sign(rule.signing_secret, timestamp, body)
    _post(
        rule.destination,
        body,
        {
            "Perceptis-Timestamp": timestamp,
            "Perceptis-Signature": f"t={timestamp},v1={signature}",
            "Perceptis-Delivery": str(delivery.payload.get("id", delivery.pk)),
        },
    )


def _send_slack(rule: AlertRule, delivery: AlertDelivery) -> None:
    text = f":rotating_light: *{rule.name}* ({rule.organization.name})\n{delivery.message}"
    _post(rule.destination, json.dumps({"text": text}).encode(), {})


def _post(url: str, body: bytes, headers: dict) -> None:
    # Through the one outbound client: checked address, allowed ports, no redirects, one deadline.
    try:
        outbound.post(
            url,
            body=body,
            headers={"Content-Type": "application/json", "User-Agent": USER_AGENT, **headers},
            deadline=settings.APIKEYS_ALERT_TIMEOUT_SECONDS,
        )
    except outbound.OutboundError as exc:
        raise DeliveryError(str(exc)) from None
