"""Webhook tools on the pages: a signed ``webhook.test`` through the outbox, resending a
delivery with the same ``webhook-id``, and a delivery's page with its payload and attempts."""

import pytest
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from accounts.models import AuditEvent, Membership
from tests.helpers import SYSTEM
from tests.webhooks.test_job_webhook_delivery import run_outbound_queue
from webhooks.attempts import attempt_record
from webhooks.delivery import max_attempts, webhook_deliver
from webhooks.events import event_publish
from webhooks.models import WebhookAttempt, WebhookDelivery
from webhooks.services import webhookendpoint_create, webhookendpoint_update

LIST = "/settings/developer/webhooks/"


@pytest.fixture
def admin_client(signed_in, org, make_user):
    return signed_in(make_user(org, role=Membership.Role.ADMIN))


def endpoint_for(org, url, **fields):
    return webhookendpoint_create(
        organization=org,
        environment="live",
        actor=SYSTEM,
        url=url,
        events=["job.succeeded"],
        **fields,
    )


def test_a_test_event_reaches_the_receiver_signed_like_a_real_one(
    admin_client, org, receiver, django_capture_on_commit_callbacks
):
    endpoint, secret = endpoint_for(org, receiver.url)

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(f"{LIST}{endpoint.public_id}/test/")
    assert run_outbound_queue() == 1

    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    assert response.status_code == 302
    assert response["Location"].endswith(f"/deliveries/{delivery.public_id}/")
    assert delivery.event_type == "webhook.test" and delivery.status == "succeeded"
    (request,) = receiver.requests
    body = Webhook(secret).verify(request["body"], request["headers"])
    assert body["type"] == "webhook.test"
    assert body["data"]["endpoint_id"] == endpoint.public_id
    assert request["headers"]["webhook-id"] == delivery.public_id
    assert AuditEvent.objects.filter(action="webhook_endpoint.test_sent").count() == 1


def test_a_test_event_goes_to_that_endpoint_only(admin_client, org, receiver):
    endpoint, _ = endpoint_for(org, receiver.url)
    other, _ = endpoint_for(org, receiver.url, description="Other")

    admin_client.post(f"{LIST}{endpoint.public_id}/test/")

    assert WebhookDelivery.objects.filter(endpoint=endpoint).count() == 1
    assert not WebhookDelivery.objects.filter(endpoint=other).exists()


def test_resending_a_failed_delivery_makes_a_new_attempt_with_the_same_webhook_id(
    admin_client, org, receiver, settings, django_capture_on_commit_callbacks
):
    settings.WEBHOOKS_RETRY_SCHEDULE_SECONDS = [0]
    receiver.replies = [(500, 0), (500, 0), (200, 0)]
    endpoint, secret = endpoint_for(org, receiver.url)
    with django_capture_on_commit_callbacks(execute=True):
        (delivery,) = event_publish(
            organization=org, environment="live", type="job.succeeded", data={"job_id": "job_x"}
        )
    assert run_outbound_queue() == 1
    webhook_deliver(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    assert delivery.status == "failed" and delivery.attempts == max_attempts()

    page = f"{LIST}{endpoint.public_id}/deliveries/{delivery.public_id}/"
    with django_capture_on_commit_callbacks(execute=True):
        assert admin_client.post(f"{page}resend/").status_code == 302
    assert run_outbound_queue() == 1

    delivery.refresh_from_db()
    assert delivery.status == "succeeded"
    ids = {r["headers"]["webhook-id"] for r in receiver.requests}
    assert ids == {delivery.public_id} and len(receiver.requests) == 3
    Webhook(secret).verify(receiver.requests[-1]["body"], receiver.requests[-1]["headers"])
    attempts = list(WebhookAttempt.objects.filter(delivery=delivery).order_by("started_at"))
    assert [a.response_status for a in attempts] == [500, 500, 200]
    assert AuditEvent.objects.get(action="webhook_delivery.resent").metadata["previous_status"] == (
        "failed"
    )


def test_a_retrying_delivery_is_due_now_after_a_resend(admin_client, org):
    endpoint, _ = endpoint_for(org, "https://hooks.example.com/in")
    (delivery,) = event_publish(
        organization=org, environment="live", type="job.succeeded", data={"job_id": "job_x"}
    )
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        attempts=2, next_attempt_at="2999-01-01T00:00:00Z"
    )

    admin_client.post(f"{LIST}{endpoint.public_id}/deliveries/{delivery.public_id}/resend/")

    delivery.refresh_from_db()
    assert delivery.status == "pending" and delivery.attempts == 2
    assert delivery.next_attempt_at.year < 2999


def test_the_delivery_page_shows_the_payload_and_each_attempt(admin_client, org, receiver):
    receiver.replies = [(503, 0)]
    endpoint, _ = endpoint_for(org, receiver.url)
    (delivery,) = event_publish(
        organization=org, environment="live", type="job.succeeded", data={"job_id": "job_seen"}
    )
    webhook_deliver(delivery_id=delivery.pk)

    page = admin_client.get(f"{LIST}{endpoint.public_id}/deliveries/{delivery.public_id}/")

    text = page.content.decode()
    assert page.status_code == 200
    assert "job_seen" in text and "HTTP 503" in text and "Retrying" in text and " ms" in text
    assert "Next attempt" in text


def test_only_the_first_2_kb_of_a_response_body_is_kept(org):
    endpoint, _ = endpoint_for(org, "https://hooks.example.com/in")
    delivery = WebhookDelivery.objects.create(endpoint=endpoint, event_type="x", payload={})

    attempt = attempt_record(
        delivery=delivery, number=1, finished_at=timezone.now(), duration_ms=5,
        response_status=500, response_body=b"\x00\xff" + b"a" * 10_000, error="boom",
    )  # fmt: skip

    assert len(attempt.response_body.encode()) <= 2048 + 8
    assert "\x00" not in attempt.response_body


def test_members_cannot_send_or_resend(signed_in, member, org):
    endpoint, _ = endpoint_for(org, "https://hooks.example.com/in")
    (delivery,) = event_publish(
        organization=org, environment="live", type="job.succeeded", data={"job_id": "job_x"}
    )
    client = signed_in(member)

    assert client.post(f"{LIST}{endpoint.public_id}/test/").status_code == 403
    resend = f"{LIST}{endpoint.public_id}/deliveries/{delivery.public_id}/resend/"
    assert client.post(resend).status_code == 403
    assert WebhookDelivery.objects.count() == 1
    page = client.get(f"{LIST}{endpoint.public_id}/deliveries/{delivery.public_id}/")
    assert page.status_code == 200 and b"Resend" not in page.content


def test_another_organizations_endpoint_and_delivery_are_not_found(admin_client, make_org):
    other = make_org()
    endpoint, _ = endpoint_for(other, "https://hooks.example.com/in")
    (delivery,) = event_publish(
        organization=other, environment="live", type="job.succeeded", data={"job_id": "job_x"}
    )
    base = f"{LIST}{endpoint.public_id}/"

    assert admin_client.post(f"{base}test/").status_code == 404
    assert admin_client.get(f"{base}deliveries/{delivery.public_id}/").status_code == 404
    assert admin_client.post(f"{base}deliveries/{delivery.public_id}/resend/").status_code == 404
    assert WebhookDelivery.objects.count() == 1


def test_a_delivery_of_another_endpoint_is_not_found_under_mine(admin_client, org, make_org):
    mine, _ = endpoint_for(org, "https://hooks.example.com/in")
    other, _ = endpoint_for(make_org(), "https://hooks.example.com/in")
    theirs = WebhookDelivery.objects.create(endpoint=other, event_type="x", payload={})

    url = f"{LIST}{mine.public_id}/deliveries/{theirs.public_id}/"
    assert admin_client.get(url).status_code == 404
    assert admin_client.post(f"{url}resend/").status_code == 404


@pytest.mark.parametrize("message_id", ["msg_\x00", "x" * 5000, "msg_a/../b", "%00"])
def test_malformed_message_ids_are_not_found(admin_client, org, message_id):
    endpoint, _ = endpoint_for(org, "https://hooks.example.com/in")

    response = admin_client.get(f"{LIST}{endpoint.public_id}/deliveries/{message_id}/")

    assert response.status_code == 404


def test_a_disabled_endpoint_gets_no_test_event_and_no_resend(admin_client, org):
    endpoint, _ = endpoint_for(org, "https://hooks.example.com/in")
    (delivery,) = event_publish(
        organization=org, environment="live", type="job.succeeded", data={"job_id": "job_x"}
    )
    webhookendpoint_update(endpoint=endpoint, actor=SYSTEM, enabled=False)

    admin_client.post(f"{LIST}{endpoint.public_id}/test/")
    admin_client.post(f"{LIST}{endpoint.public_id}/deliveries/{delivery.public_id}/resend/")

    delivery.refresh_from_db()
    assert WebhookDelivery.objects.count() == 1 and delivery.status == "failed"
