"""The outbound engine hands work out per destination: one lease, one worker, one queued task;
the dispatcher queues due work, costs one query per outbox when idle, and outlives outages."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import OperationalError, connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_q.models import OrmQ

from perceptis.queues import OUTBOUND_CLUSTER
from tests.helpers import SYSTEM, run_outbound_queue
from webhooks.delivery import destination_deliver, destination_key, outbox_dispatch_due
from webhooks.events import event_publish
from webhooks.leases import lease_extend, lease_release, lease_take
from webhooks.management.commands import dispatch_outbound as dispatch_command
from webhooks.models import WebhookDelivery
from webhooks.services import webhookendpoint_create


@pytest.fixture
def endpoint(org, receiver):
    return webhookendpoint_create(
        organization=org,
        environment="live",
        actor=SYSTEM,
        url=receiver.url,
        events=["job.succeeded"],
    )[0]


def publish(org, n=1):
    return [
        event_publish(organization=org, environment="live", type="job.succeeded", data={"n": i})
        for i in range(n)
    ]


def queued():
    return list(OrmQ.objects.filter(key=OUTBOUND_CLUSTER))


def test_a_lease_has_one_holder_until_it_expires_or_is_released(db):
    now = timezone.now()
    first = lease_take(destination="x:1", until=now + timedelta(seconds=30), now=now)
    assert first
    assert lease_take(destination="x:1", until=now + timedelta(seconds=30), now=now) is None
    assert lease_take(destination="x:2", until=now + timedelta(seconds=30), now=now)

    later = now + timedelta(seconds=31)  # the holder died: its lease has run out
    second = lease_take(destination="x:1", until=later + timedelta(seconds=30), now=later)
    assert second and second != first
    assert not lease_extend(destination="x:1", token=first, until=later)  # the old holder lost it
    lease_release(destination="x:1", token=first)  # and cannot give away the new one
    assert lease_take(destination="x:1", until=later, now=later) is None


def test_the_dispatcher_queues_one_task_per_destination(org, endpoint, receiver):
    publish(org, n=3)

    assert outbox_dispatch_due() == 1
    assert outbox_dispatch_due() == 0  # queued: held for its worker, not queued again
    assert len(queued()) == 1

    assert run_outbound_queue() == 3  # one worker sends the endpoint's three, one by one
    assert len(receiver.requests) == 3
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"succeeded"}


def test_an_idle_dispatcher_asks_one_query_per_outbox(db):
    with CaptureQueriesContext(connection) as queries:
        assert outbox_dispatch_due() == 0

    assert len(queries) == 2  # job webhook deliveries and alert deliveries


def test_a_worker_whose_lease_went_to_another_sends_nothing(org, endpoint, receiver):
    publish(org)
    key = destination_key(WebhookDelivery, endpoint.pk)
    now = timezone.now()
    holder = lease_take(destination=key, until=now + timedelta(seconds=60), now=now)

    counts = destination_deliver(model=WebhookDelivery, destination_id=endpoint.pk, token="stale")

    assert sum(counts.values()) == 0
    assert receiver.requests == []
    assert destination_deliver(model=WebhookDelivery, destination_id=endpoint.pk, token=holder)
    assert len(receiver.requests) == 1


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_dispatcher_command_goes_on_after_the_database_fails(
    org, endpoint, receiver, settings, monkeypatch, caplog
):
    settings.WEBHOOKS_DISPATCH_SECONDS = 0.01
    WebhookDelivery.objects.create(
        endpoint=endpoint, event_type="job.succeeded", payload={}, next_attempt_at=timezone.now()
    )
    real = dispatch_command.outbox_dispatch_due
    calls = []

    def failing_once():
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("server closed the connection unexpectedly")
        return real()

    monkeypatch.setattr(dispatch_command, "outbox_dispatch_due", failing_once)

    call_command("dispatch_outbound", "--ticks", "2")

    assert "Dispatching due outbound deliveries failed" in caplog.text
    assert len(queued()) == 1  # the next tick queued the due delivery
