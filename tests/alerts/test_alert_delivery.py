"""Firings reach email, a signed webhook or Slack through the webhooks outbox engine, retried
on its schedule until they land."""

import base64
import hashlib
import hmac
import json
import socket
import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail
from django.db import connection
from django.utils import timezone
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from alerts.evaluation import alerts_evaluate
from alerts.models import AlertDelivery, AlertRule
from alerts.services import alertdelivery_retry, alertrule_create
from tests.helpers import SYSTEM, requires_postgres
from webhooks.delivery import webhooks_deliver_due

NOW = datetime(2026, 3, 10, 10, 20, tzinfo=UTC)
HOUR = NOW.replace(minute=0)


@pytest.fixture
def busy_key(org, make_key, add_usage):
    """A key with 25 requests in the current hour, and its plaintext."""
    key, plaintext = make_key(org)
    add_usage(key, HOUR, requests=25, errors=5)
    return key, plaintext


@pytest.fixture(autouse=True)
def _schedule(settings):
    settings.WEBHOOKS_RETRY_SCHEDULE_SECONDS = [5, 5, 60]


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


def fire_and_deliver():
    """Evaluate the rules as of ``NOW`` and let the engine send what is due."""
    alerts_evaluate(now=NOW)
    return deliver_due()


def deliver_due(after: float = 0):
    """Run the outbox sweep as if ``after`` seconds had passed."""
    return webhooks_deliver_due(now=timezone.now() + timedelta(seconds=after))


def verify_standard(request: dict, secret: str) -> dict:
    """Check the request as a Standard Webhooks receiver would; return the document."""
    headers = {k.lower(): v for k, v in request["headers"].items()}
    return Webhook(secret).verify(request["body"], headers)


def verify_legacy(request: dict, secret: str) -> int:
    """Check the deprecated ``Perceptis-Signature``; return the signed timestamp."""
    headers = {k.lower(): v for k, v in request["headers"].items()}
    parts = dict(item.split("=", 1) for item in headers["perceptis-signature"].split(","))
    assert parts["t"] == headers["perceptis-timestamp"]
    expected = hmac.new(
        secret.encode(), parts["t"].encode() + b"." + request["body"], hashlib.sha256
    ).hexdigest()
    assert hmac.compare_digest(parts["v1"], expected)
    return int(parts["t"])


def test_webhook_failing_twice_is_retried_on_the_schedule_and_delivered(org, busy_key, receiver):
    key, _ = busy_key
    receiver.statuses = [500, 500, 200]
    rule = requests_rule(org, "webhook", receiver.url, api_key=key)

    fire_and_deliver()
    delivery = AlertDelivery.objects.get(rule=rule)
    assert (delivery.status, delivery.attempts) == ("pending", 1)
    assert delivery.last_error == "The receiver answered HTTP 500."
    assert delivery.last_response_status == 500

    assert deliver_due(after=4)["pending"] == 0
    assert len(receiver.requests) == 1  # not due yet

    deliver_due(after=6)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("pending", 2)
    deliver_due(after=12)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("succeeded", 3)
    assert delivery.delivered_at is not None
    assert delivery.last_error == ""
    assert delivery.next_attempt_at is None

    # Each attempt is a Standard Webhooks message under the rule's secret, with one id.
    documents = [verify_standard(r, rule.signing_secret) for r in receiver.requests]
    assert len({json.dumps(d, sort_keys=True) for d in documents}) == 1
    assert len({r["headers"]["webhook-id"] for r in receiver.requests}) == 1
    with pytest.raises(WebhookVerificationError):
        verify_standard(receiver.requests[2], "whsec_" + base64.b64encode(b"0" * 32).decode())
    tampered = {**receiver.requests[2], "body": receiver.requests[2]["body"].replace(b"25", b"26")}
    with pytest.raises(WebhookVerificationError):
        verify_standard(tampered, rule.signing_secret)

    deliver_due(after=3600)
    assert len(receiver.requests) == 3


def test_a_new_webhook_rule_gets_a_32_byte_standard_webhooks_secret(org):
    rule = requests_rule(org, "webhook", "https://hooks.example.com/alerts")

    assert rule.legacy_signature is False
    assert rule.signing_secret.startswith("whsec_")
    assert len(base64.b64decode(rule.signing_secret.removeprefix("whsec_"))) == 32


def test_a_rule_on_the_deprecated_scheme_signs_perceptis_signature(org, busy_key, receiver):
    rule = requests_rule(org, "webhook", receiver.url)
    AlertRule.objects.filter(pk=rule.pk).update(legacy_signature=True)

    fire_and_deliver()

    (request,) = receiver.requests
    assert verify_legacy(request, rule.signing_secret)
    assert "webhook-signature" not in {k.lower() for k in request["headers"]}
    with pytest.raises(AssertionError):
        verify_legacy(request, "whsec_" + "0" * 48)


def test_webhook_body_describes_the_firing(org, busy_key, receiver):
    key, _ = busy_key
    rule = requests_rule(org, "webhook", receiver.url, api_key=key)

    fire_and_deliver()

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
    assert headers["webhook-id"] == body["id"]


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

    fire_and_deliver()

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

    fire_and_deliver()

    body = receiver.json(0)
    assert list(body) == ["text"]
    assert "Traffic spike" in body["text"]
    assert "25 requests" in body["text"]
    assert "Perceptis-Signature" not in receiver.requests[0]["headers"]
    assert AlertDelivery.objects.get(rule=rule).status == "succeeded"


def test_email_goes_to_the_rule_address(org, busy_key):
    rule = requests_rule(org, "email", "oncall@example.com")

    fire_and_deliver()

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["oncall@example.com"]
    assert "Traffic spike" in message.subject
    assert "25 requests" in message.body
    delivery = AlertDelivery.objects.get(rule=rule)
    assert (delivery.status, delivery.attempts) == ("succeeded", 1)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_unreachable_receiver_ends_failed_after_the_last_attempt(org, busy_key, settings):
    port = _closed_port()
    settings.OUTBOUND_ALLOWED_PORTS = [80, 443, port]
    rule = requests_rule(org, "webhook", f"http://127.0.0.1:{port}/hook")

    fire_and_deliver()
    for n in range(1, 10):
        deliver_due(after=n * 120)

    delivery = AlertDelivery.objects.get(rule=rule)
    assert delivery.status == "failed"
    assert delivery.attempts == 4  # the first and one for each of the three waits
    assert delivery.last_error.startswith("Could not connect")
    assert delivery.next_attempt_at is None
    assert delivery.delivered_at is None


def test_an_email_that_cannot_be_sent_is_retried_by_the_same_engine(org, busy_key, settings):
    settings.EMAIL_BACKEND = "tests.alerts.conftest.BrokenEmailBackend"
    rule = requests_rule(org, "email", "oncall@example.com")

    fire_and_deliver()

    delivery = AlertDelivery.objects.get(rule=rule)
    assert (delivery.status, delivery.attempts) == ("pending", 1)
    assert delivery.last_error == "Email not sent: ConnectionRefusedError"
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    deliver_due(after=6)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("succeeded", 2)


def test_redirects_are_not_followed(org, busy_key, receiver):
    receiver.statuses = [302]
    receiver.redirect_to = "http://169.254.169.254/latest/meta-data/"
    rule = requests_rule(org, "webhook", receiver.url)

    fire_and_deliver()

    delivery = AlertDelivery.objects.get(rule=rule)
    assert delivery.status == "pending"
    assert delivery.last_error == "The receiver answered HTTP 302."
    assert len(receiver.requests) == 1


def test_private_addresses_are_refused_outside_development(org, busy_key, receiver, settings):
    # Saved while allowed (a private address written in the URL is refused when it is saved);
    # the address a name resolves to is checked again on every request.
    rule = requests_rule(org, "webhook", receiver.url)
    settings.APIKEYS_ALERT_ALLOW_PRIVATE_URLS = False

    fire_and_deliver()

    delivery = AlertDelivery.objects.get(rule=rule)
    assert delivery.status == "pending"
    assert delivery.last_error == "Could not connect to the destination."
    assert receiver.requests == []


def test_retry_now_queues_a_failed_delivery_for_one_more_attempt(org, busy_key, receiver, settings):
    settings.WEBHOOKS_RETRY_SCHEDULE_SECONDS = []
    receiver.statuses = [503, 200]
    rule = requests_rule(org, "webhook", receiver.url)
    fire_and_deliver()
    delivery = AlertDelivery.objects.get(rule=rule)
    assert delivery.status == "failed"

    delivery = alertdelivery_retry(delivery=delivery, actor=SYSTEM)

    # Queued, not sent: the caller (admin, in a web request) never waits for a receiver.
    assert (delivery.status, delivery.attempts) == ("pending", 0)
    assert len(receiver.requests) == 1
    deliver_due()
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("succeeded", 1)
    assert len(receiver.requests) == 2


def test_retry_now_leaves_a_succeeded_delivery_alone(org, busy_key, receiver):
    rule = requests_rule(org, "webhook", receiver.url)
    fire_and_deliver()
    delivery = AlertDelivery.objects.get(rule=rule)

    delivery = alertdelivery_retry(delivery=delivery, actor=SYSTEM)
    deliver_due()

    assert (delivery.status, delivery.attempts) == ("succeeded", 1)
    assert len(receiver.requests) == 1


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
            next_attempt_at=timezone.now(),
        )
        for n in range(5)
    ]
    barrier = threading.Barrier(4)

    def deliver():
        try:
            barrier.wait()
            webhooks_deliver_due()
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(r["headers"]["webhook-id"] for r in receiver.requests) == sorted(
        d.payload["id"] for d in deliveries
    )
    assert set(AlertDelivery.objects.values_list("status", "attempts")) == {("succeeded", 1)}
