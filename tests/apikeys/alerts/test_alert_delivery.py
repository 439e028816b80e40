"""Firings reach email, a signed webhook or Slack, retried with backoff until they land."""

import hashlib
import hmac
import json
import socket
import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail
from django.db import connection

from apikeys.alerts.delivery import alerts_deliver_due
from apikeys.alerts.evaluation import alerts_evaluate
from apikeys.alerts.models import AlertDelivery
from apikeys.alerts.services import alertdelivery_retry, alertrule_create
from tests.helpers import SYSTEM, requires_postgres

NOW = datetime(2026, 3, 10, 10, 20, tzinfo=UTC)
HOUR = NOW.replace(minute=0)


@pytest.fixture
def busy_key(org, make_key, add_usage):
    """A key with 25 requests in the current hour, and its plaintext."""
    key, plaintext = make_key(org)
    add_usage(key, HOUR, requests=25, errors=5)
    return key, plaintext


def requests_rule(org, channel, destination, **extra):
    return alertrule_create(
        organization=org,
        actor=SYSTEM,
        name="Traffic spike",
        metric="requests",
        threshold=10,
        window_minutes=60,
        channel=channel,
        destination=destination,
        **extra,
    )


def verify_signature(request: dict, secret: str) -> int:
    """Check the request as a receiver would; return the signed timestamp."""
    headers = {k.lower(): v for k, v in request["headers"].items()}
    parts = dict(item.split("=", 1) for item in headers["perceptis-signature"].split(","))
    assert parts["t"] == headers["perceptis-timestamp"]
    expected = hmac.new(
        secret.encode(), parts["t"].encode() + b"." + request["body"], hashlib.sha256
    ).hexdigest()
    assert hmac.compare_digest(parts["v1"], expected)
    return int(parts["t"])


def test_webhook_failing_twice_is_retried_with_backoff_and_delivered(org, busy_key, receiver):
    key, _ = busy_key
    receiver.statuses = [500, 500, 200]
    rule = requests_rule(org, "webhook", receiver.url, api_key=key)

    alerts_evaluate(now=NOW)  # fires and makes the first attempt
    delivery = AlertDelivery.objects.get(rule=rule)
    assert (delivery.status, delivery.attempts) == ("pending", 1)
    assert delivery.last_error == "The receiver answered HTTP 500."
    assert delivery.next_attempt_at == NOW + timedelta(minutes=1)

    assert alerts_deliver_due(now=NOW + timedelta(seconds=59))["pending"] == 0
    assert len(receiver.requests) == 1  # not due yet

    second = NOW + timedelta(minutes=1)
    alerts_deliver_due(now=second)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("pending", 2)
    assert delivery.next_attempt_at == second + timedelta(minutes=2)  # the backoff doubles

    alerts_deliver_due(now=second + timedelta(seconds=119))
    assert len(receiver.requests) == 2

    third = second + timedelta(minutes=2)
    alerts_deliver_due(now=third)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("delivered", 3)
    assert delivery.delivered_at == third
    assert delivery.last_error == ""
    assert delivery.next_attempt_at is None

    # Each attempt is signed with the rule's secret and the time it was sent.
    sent_at = [verify_signature(r, rule.signing_secret) for r in receiver.requests]
    assert sent_at == [int(t.timestamp()) for t in (NOW, second, third)]
    with pytest.raises(AssertionError):
        verify_signature(receiver.requests[2], "whsec_" + "0" * 48)
    tampered = {**receiver.requests[2], "body": receiver.requests[2]["body"].replace(b"25", b"26")}
    with pytest.raises(AssertionError):
        verify_signature(tampered, rule.signing_secret)
    # Every retry delivers the same document.
    assert len({r["body"] for r in receiver.requests}) == 1

    alerts_deliver_due(now=third + timedelta(hours=1))
    assert len(receiver.requests) == 3


def test_webhook_body_describes_the_firing(org, busy_key, receiver):
    key, _ = busy_key
    rule = requests_rule(org, "webhook", receiver.url, api_key=key)

    alerts_evaluate(now=NOW)

    body = receiver.json(0)
    assert body["rule"] == {"id": rule.pk, "name": "Traffic spike"}
    assert body["metric"] == "requests"
    assert body["value"] == 25
    assert body["threshold"] == 10
    assert body["window"] == {
        "start": HOUR.isoformat(),
        "end": (HOUR + timedelta(hours=1)).isoformat(),
        "minutes": 60,
    }
    assert body["organization"] == {"id": org.slug, "name": org.name}
    assert body["api_key"] == key.key_id
    headers = receiver.requests[0]["headers"]
    assert headers["Content-Type"] == "application/json"
    assert headers["Perceptis-Delivery"] == body["id"]


def test_no_key_plaintext_reaches_any_channel(org, busy_key, receiver):
    key, plaintext = busy_key
    secret_body = plaintext.split("sk-live-per-", 1)[1]
    requests_rule(org, "webhook", receiver.url, api_key=key)
    alertrule_create(
        organization=org,
        actor=SYSTEM,
        name="Mail",
        metric="requests",
        threshold=10,
        channel="email",
        destination="ops@example.com",
        api_key=key,
    )

    alerts_evaluate(now=NOW)

    sent = receiver.requests[0]["body"].decode() + json.dumps(receiver.requests[0]["headers"])
    sent += mail.outbox[0].body + mail.outbox[0].subject
    stored = " ".join(
        d.message + json.dumps(d.payload) + d.last_error for d in AlertDelivery.objects.all()
    )
    for text in (sent, stored):
        assert secret_body not in text
        assert secret_body[:16] not in text


def test_slack_gets_a_text_payload(org, busy_key, receiver):
    rule = requests_rule(org, "slack", receiver.url)

    alerts_evaluate(now=NOW)

    body = receiver.json(0)
    assert list(body) == ["text"]
    assert "Traffic spike" in body["text"]
    assert "25 requests" in body["text"]
    assert "Perceptis-Signature" not in receiver.requests[0]["headers"]
    assert AlertDelivery.objects.get(rule=rule).status == "delivered"


def test_email_goes_to_the_rule_address(org, busy_key):
    rule = requests_rule(org, "email", "oncall@example.com")

    alerts_evaluate(now=NOW)

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["oncall@example.com"]
    assert "Traffic spike" in message.subject
    assert "25 requests" in message.body
    delivery = AlertDelivery.objects.get(rule=rule)
    assert (delivery.status, delivery.attempts) == ("delivered", 1)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_unreachable_receiver_ends_failed_after_max_attempts(org, busy_key, settings):
    settings.APIKEYS_ALERT_MAX_ATTEMPTS = 4
    port = _closed_port()
    settings.OUTBOUND_ALLOWED_PORTS = [80, 443, port]
    rule = requests_rule(org, "webhook", f"http://127.0.0.1:{port}/hook")

    alerts_evaluate(now=NOW)
    moment = NOW
    for _ in range(10):
        moment += timedelta(hours=2)
        alerts_deliver_due(now=moment)

    delivery = AlertDelivery.objects.get(rule=rule)
    assert delivery.status == "failed"
    assert delivery.attempts == 4
    assert delivery.last_error.startswith("Could not connect")
    assert delivery.next_attempt_at is None
    assert delivery.delivered_at is None


def test_backoff_is_capped(org, busy_key, settings):
    from apikeys.alerts.delivery import retry_delay

    settings.APIKEYS_ALERT_RETRY_BASE_SECONDS = 60
    settings.APIKEYS_ALERT_RETRY_MAX_SECONDS = 600
    assert [retry_delay(n).total_seconds() for n in range(1, 7)] == [
        60,
        120,
        240,
        480,
        600,
        600,
    ]


def test_redirects_are_not_followed(org, busy_key, receiver):
    receiver.statuses = [302]
    receiver.redirect_to = "http://169.254.169.254/latest/meta-data/"
    rule = requests_rule(org, "webhook", receiver.url)

    alerts_evaluate(now=NOW)

    delivery = AlertDelivery.objects.get(rule=rule)
    assert delivery.status == "pending"
    assert delivery.last_error == "The receiver answered HTTP 302."
    assert len(receiver.requests) == 1


def test_private_addresses_are_refused_outside_development(org, busy_key, receiver, settings):
    # Saved while allowed (a private address written in the URL is refused when it is saved);
    # the address a name resolves to is checked again on every request.
    rule = requests_rule(org, "webhook", receiver.url)
    settings.APIKEYS_ALERT_ALLOW_PRIVATE_URLS = False

    alerts_evaluate(now=NOW)

    delivery = AlertDelivery.objects.get(rule=rule)
    assert delivery.status == "pending"
    assert delivery.last_error == "Could not connect to the destination."
    assert receiver.requests == []


def test_retry_now_gives_a_failed_delivery_one_more_attempt(org, busy_key, receiver, settings):
    settings.APIKEYS_ALERT_MAX_ATTEMPTS = 1
    receiver.statuses = [503, 200]
    rule = requests_rule(org, "webhook", receiver.url)
    alerts_evaluate(now=NOW)
    delivery = AlertDelivery.objects.get(rule=rule)
    assert delivery.status == "failed"

    delivery = alertdelivery_retry(delivery=delivery, actor=SYSTEM, now=NOW + timedelta(days=1))

    assert (delivery.status, delivery.attempts) == ("delivered", 2)
    assert len(receiver.requests) == 2


@requires_postgres
# Restore the plans and schedules that migrations seed, which a transactional test flushes.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_deliverers_send_each_attempt_once(org, busy_key, receiver):
    rule = requests_rule(org, "webhook", receiver.url)
    deliveries = [
        AlertDelivery.objects.create(
            rule=rule,
            window_start=HOUR - timedelta(hours=n),
            value=25,
            message="25 requests",
            payload={"id": f"alert_{n}"},
            next_attempt_at=NOW,
        )
        for n in range(5)
    ]
    barrier = threading.Barrier(4)

    def deliver():
        try:
            barrier.wait()
            alerts_deliver_due(now=NOW)
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(r["headers"]["Perceptis-Delivery"] for r in receiver.requests) == sorted(
        d.payload["id"] for d in deliveries
    )
    assert set(AlertDelivery.objects.values_list("status", "attempts")) == {("delivered", 1)}
