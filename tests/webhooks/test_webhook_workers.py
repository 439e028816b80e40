"""Webhook deliveries with real workers: a receiver that holds its request occupies only the
outbound cluster while generation jobs keep finishing; and concurrent workers on PostgreSQL
send one attempt once."""

import threading

import pytest
from django.db import connection

from jobs.models import Job
from jobs.services import job_submit
from perceptis.queues import OUTBOUND_CLUSTER
from tests.helpers import SYSTEM, HoldingReceiver, requires_postgres
from tests.jobs.test_worker_and_reconciler import _database_url
from tests.processes import qcluster, wait_for
from webhooks.delivery import webhook_deliver
from webhooks.events import event_publish
from webhooks.models import WebhookDelivery
from webhooks.services import webhookendpoint_create

TRANSACTIONAL = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def _endpoint(org, url):
    return webhookendpoint_create(
        organization=org, environment="live", actor=SYSTEM, url=url, events=["job.succeeded"]
    )[0]


@TRANSACTIONAL
def test_a_receiver_that_hangs_holds_only_outbound_workers(make_org, make_key, settings):
    org = make_org(credits=10)
    key, _ = make_key(org)
    # Long enough that a loaded machine still finishes the second job first.
    receiver = HoldingReceiver(hold=40)
    settings.OUTBOUND_ALLOWED_PORTS = [80, 443, receiver.port]
    _endpoint(org, receiver.url)
    env = {
        "DATABASE_URL": _database_url(),
        "Q_WORKERS": "1",
        "Q_POLL": "0.1",
        "LOG_LEVEL": "WARNING",
        "OUTBOUND_ALLOW_PRIVATE_ADDRESSES": "True",
        "OUTBOUND_ALLOWED_PORTS": f"80,443,{receiver.port}",
        "WEBHOOKS_DEADLINE_SECONDS": "45",
    }
    try:
        with (
            qcluster(env) as worker,
            qcluster({**env, "Q_CLUSTER_NAME": OUTBOUND_CLUSTER}) as outbound,
        ):
            first = job_submit(key=key, prompt="hello", options={}).job
            assert receiver.started.wait(90), outbound.output()
            # The outbound worker now holds the first job's event; jobs go on finishing.
            second = job_submit(key=key, prompt="hello again", options={}).job
            wait_for(
                lambda: Job.objects.get(pk=second.pk).status == Job.Status.SUCCEEDED,
                timeout=30,
                what="the second job to succeed while the receiver holds the first's event",
                program=worker,
            )
            assert not receiver.finished.is_set()
            assert Job.objects.get(pk=first.pk).status == Job.Status.SUCCEEDED
            events = WebhookDelivery.objects.order_by("pk")
            assert [d.payload["data"]["job_id"] for d in events] == [first.job_id, second.job_id]
    finally:
        receiver.close()


@requires_postgres
@TRANSACTIONAL
def test_concurrent_workers_send_one_attempt_once(org, settings):
    receiver = HoldingReceiver(hold=0.5)
    settings.OUTBOUND_ALLOWED_PORTS = [80, 443, receiver.port]
    _endpoint(org, receiver.url)
    (delivery,) = event_publish(
        organization=org, environment="live", type="job.succeeded", data={"job_id": "job_x"}
    )
    barrier = threading.Barrier(4)
    outcomes = []

    def worker():
        try:
            barrier.wait()
            outcomes.append(webhook_deliver(delivery_id=delivery.pk))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    receiver.close()

    assert sorted(outcomes, key=str) == [None, None, None, "succeeded"]
    assert receiver.count == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("succeeded", 1)
