"""An endpoint deleted while one of its deliveries is being attempted: the worker finishes
quietly, records nothing and leaves no error behind (the delivery went with its endpoint)."""

import threading

import pytest
from django.db import connection, transaction

from tests.helpers import SYSTEM, HoldingReceiver
from webhooks.delivery import webhook_deliver
from webhooks.events import event_publish
from webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from webhooks.services import webhookendpoint_create


@pytest.fixture
def holding_receiver(settings):
    server = HoldingReceiver(hold=0.5)
    settings.OUTBOUND_ALLOWED_PORTS = [*settings.OUTBOUND_ALLOWED_PORTS, server.port]
    yield server
    server.close()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_an_endpoint_deleted_during_an_attempt_leaves_no_attempt_and_no_error(
    org, holding_receiver
):
    endpoint = webhookendpoint_create(
        organization=org,
        environment="live",
        actor=SYSTEM,
        url=holding_receiver.url,
        events=["job.succeeded"],
    )[0]
    with transaction.atomic():
        event_publish(
            organization=org, environment="live", type="job.succeeded", data={"job_id": "job_x"}
        )
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    outcome = {}

    def worker():
        try:
            outcome["status"] = webhook_deliver(delivery_id=delivery.pk)
        except Exception as error:  # the assertion below names it
            outcome["error"] = error
        finally:
            connection.close()

    thread = threading.Thread(target=worker)
    thread.start()
    assert holding_receiver.started.wait(10)
    WebhookEndpoint.objects.filter(pk=endpoint.pk).delete()  # while the receiver holds the POST
    thread.join(10)

    assert "error" not in outcome, outcome
    assert outcome["status"] is None
    assert not WebhookDelivery.objects.filter(pk=delivery.pk).exists()
    assert not WebhookAttempt.objects.exists()
