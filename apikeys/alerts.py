"""Evaluate alert rules and deliver their firings by email, signed webhook or Slack.

A rule's windows are aligned to multiples of ``window_minutes`` since the Unix epoch (UTC), so
"once per rule and window" has one meaning for every evaluator: the ``AlertDelivery`` row's
unique ``(rule, window_start)`` lets exactly one of several concurrent evaluators record a
firing. Usage rules look at the running window and fire as soon as it crosses the threshold;
``key_expiring`` rules use one-day windows, so a warning repeats daily until the key is renewed.

A delivery is claimed with a conditional UPDATE that counts the attempt and sets the time of
the next one (exponential backoff), so a worker that dies mid-send leaves it due again, and two
workers never send the same attempt. After ``APIKEYS_ALERT_MAX_ATTEMPTS`` it is ``failed``.
"""

import hashlib
import hmac
import ipaddress
import json
import logging
import secrets
import socket
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from apikeys.models import AlertDelivery, AlertRule, ApiKey
from apikeys.selectors import usage_summary
from billing.services import credits_balance

logger = logging.getLogger(__name__)

Metric = AlertRule.Metric
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
USER_AGENT = "Perceptis-Alerts/1.0"


class DeliveryError(Exception):
    """A delivery attempt failed; the message is safe to store and show (no secrets)."""


@dataclass
class Measurement:
    value: float
    fired: bool
    message: str
    extra: dict = field(default_factory=dict)


def window_bounds(rule: AlertRule, now: datetime) -> tuple[datetime, datetime]:
    """Return the start and end of the rule's window that contains ``now``."""
    minutes = 24 * 60 if rule.metric == Metric.KEY_EXPIRING else rule.window_minutes
    size = timedelta(minutes=max(minutes, 1))
    start = _EPOCH + ((now - _EPOCH) // size) * size
    return start, start + size


def _window_label(start: datetime, end: datetime) -> str:
    hours = (end - start) / timedelta(hours=1)
    length = f"{hours:g} hour" + ("" if hours == 1 else "s")
    return f"{length} from {start:%Y-%m-%d %H:%M} UTC"


def _scope(rule: AlertRule) -> str:
    if rule.api_key is None:
        return "across all keys"
    return f"on key {rule.api_key.name} ({rule.api_key.key_id})"


def measure(rule: AlertRule, *, now: datetime) -> Measurement:
    """Compute the rule's metric for the window containing ``now`` and whether it fires."""
    start, end = window_bounds(rule, now)
    window = _window_label(start, end)
    org = rule.organization
    threshold = rule.threshold
    if rule.metric in (Metric.REQUESTS, Metric.ERROR_RATE, Metric.P95_LATENCY):
        summary = usage_summary(organization=org, since=start, api_key=rule.api_key)
        if rule.metric == Metric.REQUESTS:
            value = float(summary.requests)
            return Measurement(
                value,
                value > threshold,
                f"{value:g} requests {_scope(rule)} in the {window} (alert above {threshold:g}).",
            )
        if rule.metric == Metric.ERROR_RATE:
            value = round(summary.error_rate * 100, 2)
            return Measurement(
                value,
                summary.requests > 0 and value > threshold,
                f"Error rate {value:g}% ({summary.errors} of {summary.requests} requests) "
                f"{_scope(rule)} in the {window} (alert above {threshold:g}%).",
            )
        value = summary.p95_ms if summary.p95_ms is not None else 0.0
        return Measurement(
            value,
            summary.p95_ms is not None and value > threshold,
            f"p95 latency {value:g} ms {_scope(rule)} in the {window} "
            f"(alert above {threshold:g} ms).",
        )
    if rule.metric == Metric.CREDITS_BELOW:
        value = float(credits_balance(organization=org))
        return Measurement(
            value,
            value < threshold,
            f"{org.name} has {value:g} credits left (alert below {threshold:g}).",
        )
    if rule.metric == Metric.KEY_EXPIRING:
        keys = ApiKey.objects.filter(
            organization=org,
            status=ApiKey.Status.ACTIVE,
            deleted_at__isnull=True,
            expires_at__gt=now,
            expires_at__lte=now + timedelta(days=threshold),
        ).order_by("expires_at")
        if rule.api_key_id is not None:
            keys = keys.filter(pk=rule.api_key_id)
        # Only public identity: Key ID, name, expiry. Never a secret, hash or hint of one.
        expiring = [
            {"id": k.key_id, "name": k.name, "expires_at": k.expires_at.isoformat()} for k in keys
        ]
        listed = ", ".join(
            f"{k['name']} ({k['id']}) on {k['expires_at'][:10]}" for k in expiring[:10]
        )
        more = f" and {len(expiring) - 10} more" if len(expiring) > 10 else ""
        return Measurement(
            float(len(expiring)),
            bool(expiring),
            f"{len(expiring)} API key(s) of {org.name} expire within {threshold:g} days: "
            f"{listed}{more}.",
            {"keys": expiring},
        )
    raise ValueError(f"Unknown metric {rule.metric!r}")


def _payload(rule: AlertRule, m: Measurement, start: datetime, end: datetime, now) -> dict:
    return {
        "id": "alert_" + secrets.token_hex(12),
        "type": "alert.fired",
        "rule": {"id": rule.pk, "name": rule.name},
        "metric": rule.metric,
        "value": m.value,
        "threshold": rule.threshold,
        "window": {
            "start": start.isoformat(),
            "end": end.isoformat(),
            "minutes": int((end - start) / timedelta(minutes=1)),
        },
        "organization": {"id": rule.organization.slug, "name": rule.organization.name},
        "api_key": rule.api_key.key_id if rule.api_key else None,
        "message": m.message,
        "fired_at": now.isoformat(),
        **m.extra,
    }


def alerts_evaluate(*, now: datetime | None = None) -> dict:
    """Evaluate every enabled rule; record and attempt a delivery for each new firing.

    Return counts: ``evaluated``, ``fired`` (new firings) and ``delivered`` (on the first
    attempt). A rule that already fired in its current window is not measured again.
    """
    now = now or timezone.now()
    counts = {"evaluated": 0, "fired": 0, "delivered": 0}
    rules = AlertRule.objects.filter(enabled=True).select_related("organization", "api_key")
    for rule in rules.order_by("pk").iterator(chunk_size=200):
        start, end = window_bounds(rule, now)
        if AlertDelivery.objects.filter(rule=rule, window_start=start).exists():
            continue
        counts["evaluated"] += 1
        try:
            m = measure(rule, now=now)
        except Exception:
            # One broken rule must not stop the others.
            logger.exception("Alert rule %s could not be evaluated", rule.pk)
            continue
        if not m.fired:
            continue
        try:
            with transaction.atomic():
                delivery = AlertDelivery.objects.create(
                    rule=rule,
                    window_start=start,
                    value=m.value,
                    message=m.message[:500],
                    payload=_payload(rule, m, start, end, now),
                    fired_at=now,
                    next_attempt_at=now,
                )
        except IntegrityError:
            continue  # Another evaluator recorded this window's firing first.
        counts["fired"] += 1
        if alerts_deliver(delivery_id=delivery.pk, now=now) == AlertDelivery.Status.DELIVERED:
            counts["delivered"] += 1
    return counts


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


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # A redirect could lead a customer's URL to an internal address; treat it as a failure.
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def _check_public(url: str) -> None:
    """Refuse URLs that resolve to loopback, private, link-local or reserved addresses."""
    if settings.APIKEYS_ALERT_ALLOW_PRIVATE_URLS:
        return
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(parts.hostname, port, proto=socket.IPPROTO_TCP)
    except OSError:
        raise DeliveryError("The destination host name does not resolve.") from None
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global:
            raise DeliveryError("The destination resolves to a private or reserved address.")


def _post(url: str, body: bytes, headers: dict) -> None:
    _check_public(url)
    request = urllib.request.Request(  # noqa: S310 (http(s) only, checked on save)
        url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": USER_AGENT, **headers},
    )
    timeout = settings.APIKEYS_ALERT_TIMEOUT_SECONDS
    try:
        with _opener.open(request, timeout=timeout) as response:
            response.read(4096)
            status = response.status
    except urllib.error.HTTPError as exc:
        exc.close()
        raise DeliveryError(f"The receiver answered HTTP {exc.code}.") from None
    except TimeoutError:
        raise DeliveryError(f"No answer within {timeout:g} seconds.") from None
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, TimeoutError):
            raise DeliveryError(f"No answer within {timeout:g} seconds.") from None
        raise DeliveryError(f"Could not connect: {reason}"[:300]) from None
    except (OSError, ValueError) as exc:
        raise DeliveryError(f"Could not connect: {type(exc).__name__}") from None
    if not 200 <= status < 300:
        raise DeliveryError(f"The receiver answered HTTP {status}.")
