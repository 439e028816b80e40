"""The rules around webhook deliveries: one worker per attempt, a dead worker loses nothing,
disabled and deleted endpoints stop, rotation signs with both secrets for a day, secrets stay
out of logs, refused addresses fail the attempt, old records are purged, the sweep is scheduled
on the outbound cluster."""

import logging
from datetime import timedelta

import pytest
from django.utils import timezone
from django_q.models import Schedule
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from accounts.models import Organization
from jobs.tasks import purge_old_data
from perceptis.queues import OUTBOUND_CLUSTER
from tests.helpers import SYSTEM
from webhooks.delivery import _claim, webhook_deliver, webhooks_deliver_due
from webhooks.events import event_publish
from webhooks.models import WebhookDelivery, WebhookEndpoint
from webhooks.services import (
    webhookendpoint_create,
    webhookendpoint_delete,
    webhookendpoint_rotate_secret,
    webhookendpoint_update,
)

DATA = {"job_id": "job_test", "status": "succeeded"}


@pytest.fixture
def endpoint(org, receiver):
    """A live endpoint at the receiver, and its secret: ``(endpoint, secret)``."""
    return webhookendpoint_create(
        organization=org,
        environment="live",
        actor=SYSTEM,
        url=receiver.url,
        events=["job.succeeded"],
    )


def publish(org: Organization, now=None) -> WebhookDelivery:
    (delivery,) = event_publish(
        organization=org,
        environment="live",
        type="job.succeeded",
        data=DATA,
        project=org.projects.get(is_default=True).project_id,
        now=now,
    )
    return delivery


def test_two_workers_never_send_the_same_attempt(org, endpoint, receiver):
    delivery = publish(org)

    assert _claim(delivery, timezone.now())  # the first worker holds the attempt
    assert webhook_deliver(delivery_id=delivery.pk) is None  # the second finds it taken
    assert _claim(delivery, timezone.now()) is False

    assert receiver.requests == []
    delivery.refresh_from_db()
    assert delivery.attempts == 1


def test_an_attempt_whose_worker_died_is_sent_again_by_the_sweep(org, endpoint, receiver):
    delivery = publish(org)
    _claim(delivery, timezone.now())  # claimed, then the worker was killed mid-send

    assert webhooks_deliver_due()["succeeded"] == 0
    later = timezone.now() + timedelta(minutes=2)
    assert webhooks_deliver_due(now=later)["succeeded"] == 1

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("succeeded", 2)
    assert len(receiver.requests) == 1


def test_a_lost_queue_message_is_delivered_by_the_sweep(org, endpoint, receiver):
    publish(org)  # outside a transaction nothing was queued for the outbound cluster

    assert webhooks_deliver_due() == {"succeeded": 1, "pending": 0, "failed": 0}
    assert len(receiver.requests) == 1


def test_disabling_an_endpoint_stops_its_pending_deliveries(org, endpoint, receiver):
    receiver.replies = [(500, 0)]
    delivery = publish(org)
    webhook_deliver(delivery_id=delivery.pk)
    webhookendpoint_update(endpoint=endpoint[0], actor=SYSTEM, enabled=False)
    webhooks_deliver_due(now=timezone.now() + timedelta(days=2))

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("failed", 1)
    assert delivery.last_error == "The endpoint was disabled."
    assert len(receiver.requests) == 1


def test_a_deleted_endpoints_pending_deliveries_are_never_sent(org, endpoint, receiver):
    delivery = publish(org)
    webhookendpoint_delete(endpoint=endpoint[0], actor=SYSTEM)

    assert webhook_deliver(delivery_id=delivery.pk) is None
    assert webhooks_deliver_due() == {"succeeded": 0, "pending": 0, "failed": 0}
    assert receiver.requests == []


def test_after_rotation_both_secrets_sign_for_24_hours_then_only_the_new_one(
    org, endpoint, receiver
):
    old_secret = endpoint[1]
    _, new_secret = webhookendpoint_rotate_secret(endpoint=endpoint[0], actor=SYSTEM)
    webhook_deliver(delivery_id=publish(org).pk)

    request = receiver.requests[0]
    assert len(request["headers"]["webhook-signature"].split(" ")) == 2
    Webhook(old_secret).verify(request["body"], request["headers"])
    Webhook(new_secret).verify(request["body"], request["headers"])

    WebhookEndpoint.objects.filter(pk=endpoint[0].pk).update(
        previous_secret_expires_at=timezone.now() - timedelta(seconds=1)
    )
    webhook_deliver(delivery_id=publish(org).pk)
    request = receiver.requests[1]
    assert len(request["headers"]["webhook-signature"].split(" ")) == 1
    Webhook(new_secret).verify(request["body"], request["headers"])
    with pytest.raises(WebhookVerificationError):
        Webhook(old_secret).verify(request["body"], request["headers"])


def test_a_private_address_is_refused_when_sent_and_the_attempt_fails(
    org, endpoint, receiver, settings
):
    settings.OUTBOUND_ALLOW_PRIVATE_ADDRESSES = False
    delivery = publish(org)

    assert webhook_deliver(delivery_id=delivery.pk) == "pending"

    delivery.refresh_from_db()
    assert delivery.last_error == "Could not connect to the destination."
    assert receiver.requests == []


def test_secrets_never_reach_the_logs(org, receiver, client_for, manager, caplog):
    caplog.set_level(logging.DEBUG)
    client = client_for(manager[1])
    created = client.post(
        "/api/v1/webhooks", {"url": receiver.url, "events": ["job.succeeded"]}, format="json"
    ).json()
    rotated = client.post(f"/api/v1/webhooks/{created['id']}/rotate-secret").json()
    receiver.replies = [(500, 0), (200, 0)]
    delivery = publish(org)
    webhook_deliver(delivery_id=delivery.pk)
    webhooks_deliver_due(now=timezone.now() + timedelta(minutes=1))
    client.post("/api/v1/webhooks", {"url": "ftp://x", "events": ["nope"]}, format="json")

    assert len(receiver.requests) == 2
    logged = caplog.text + " ".join(str(r.args) for r in caplog.records)
    for secret in (created["secret"], rotated["secret"]):
        assert secret.removeprefix("whsec_") not in logged
    assert "Webhook delivery" in caplog.text  # the failed attempt was logged, without them


def test_old_finished_deliveries_are_purged_and_pending_ones_kept(org, endpoint, settings):
    settings.WEBHOOKS_RETENTION_DAYS = 30
    now = timezone.now()
    old = now - timedelta(days=31)
    kept_recent = publish(org)
    purged = publish(org, now=old)
    WebhookDelivery.objects.filter(pk=purged.pk).update(status="succeeded")
    kept_pending = publish(org, now=old)

    assert purge_old_data(now=now)["webhook_deliveries"] == 1

    assert set(WebhookDelivery.objects.values_list("pk", flat=True)) == {
        kept_recent.pk,
        kept_pending.pk,
    }


def test_the_delivery_sweep_runs_every_minute_on_the_outbound_cluster(db):
    schedule = Schedule.objects.get(func="webhooks.tasks.deliver_due_webhooks")

    assert (schedule.cluster, schedule.minutes) == (OUTBOUND_CLUSTER, 1)
