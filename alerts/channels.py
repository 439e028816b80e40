"""Send one attempt of an alert delivery by its rule's channel: email, signed webhook or Slack.

The webhooks outbox engine (``webhooks.delivery``) claims, retries and records the attempts;
this module only sends one. Webhook rules sign with Standard Webhooks (``webhook-id`` is the
firing's ``alert_…`` id, the same on every attempt), or, for rules made before it and not yet
switched (``legacy_signature``), with the deprecated ``Perceptis-Signature: t=…,v1=…``.
"""

import hashlib
import hmac
import json

from django.core.mail import send_mail
from django.utils import timezone

from alerts.models import AlertDelivery, AlertRule
from webhooks.delivery import Attempt, post, standard_webhook_headers

USER_AGENT = "Perceptis-Alerts/1.0"


def alert_send(delivery: AlertDelivery) -> Attempt:
    """Send the delivery once through its rule's channel."""
    rule = delivery.rule
    if rule.channel == AlertRule.Channel.EMAIL:
        return _send_email(rule, delivery)
    if rule.channel == AlertRule.Channel.WEBHOOK:
        return _send_webhook(rule, delivery)
    if rule.channel == AlertRule.Channel.SLACK:
        text = f":rotating_light: *{rule.name}* ({rule.organization.name})\n{delivery.message}"
        return post(
            rule.destination, json.dumps({"text": text}).encode(), {}, user_agent=USER_AGENT
        )
    return Attempt(error=f"Unknown channel {rule.channel!r}.", give_up=True)


def _send_email(rule: AlertRule, delivery: AlertDelivery) -> Attempt:
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
        return Attempt(error=f"Email not sent: {type(exc).__name__}")
    return Attempt()


def legacy_sign(secret: str, timestamp: str, body: bytes) -> str:
    """Return the deprecated signature: hex HMAC-SHA256 of ``"{timestamp}.{body}"``."""
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def _send_webhook(rule: AlertRule, delivery: AlertDelivery) -> Attempt:
    msg_id = str(delivery.payload.get("id") or f"alert_{delivery.pk}")
    if not rule.legacy_signature:
        body = json.dumps(delivery.payload, separators=(",", ":"))
        headers = standard_webhook_headers([rule.signing_secret], msg_id, body)
        return post(rule.destination, body.encode(), headers, user_agent=USER_AGENT)
    # Deprecated (Stripe's scheme): the timestamp is signed with the body, so a captured
    # request cannot be replayed later by someone who cannot sign.
    body = json.dumps(delivery.payload, separators=(",", ":"), sort_keys=True).encode()
    timestamp = str(int(timezone.now().timestamp()))
    signature = legacy_sign(rule.signing_secret, timestamp, body)
    headers = {
        "Perceptis-Timestamp": timestamp,
        "Perceptis-Signature": f"t={timestamp},v1={signature}",
        "Perceptis-Delivery": msg_id,
    }
    return post(rule.destination, body, headers, user_agent=USER_AGENT)
