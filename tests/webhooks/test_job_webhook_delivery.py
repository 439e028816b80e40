"""A job's completion reaches a receiver on 127.0.0.1 as a Standard Webhooks message: registered
through the API, sent on the outbound cluster after the job's transaction commits, signed with
the secret shown at creation, retried under the same ``webhook-id``, and never holding the job."""

import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import transaction
from django.utils import timezone
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from accounts.projects.services import project_create
from apikeys.keys.models import Permission
from jobs.models import Job
from jobs.services import job_cancel, job_run
from tests.helpers import SYSTEM, FakeServer, run_outbound_queue
from webhooks.delivery import webhooks_deliver_due
from webhooks.models import WebhookDelivery

ALL_EVENTS = ["job.succeeded", "job.failed", "job.canceled"]


def register(client, url, events=ALL_EVENTS) -> tuple[str, str]:
    response = client.post("/api/v1/webhooks", {"url": url, "events": events}, format="json")
    assert response.status_code == 201, response.content
    return response.json()["id"], response.json()["secret"]


def submit(client) -> str:
    response = client.post("/api/v1/generate", {"prompt": "Say hello"}, format="json")
    assert response.status_code == 202, response.content
    return response.json()["job_id"]


def run(job_id, capture) -> str:
    """Run the job as the worker does and let its transaction's on-commit hooks fire."""
    with capture(execute=True):
        return job_run(job_id=job_id)


def verify(secret: str, request: dict) -> dict:
    return Webhook(secret).verify(request["body"], request["headers"])


@pytest.fixture
def api_manager(client_for, manager):
    return client_for(manager[1])


def test_succeeded_and_failed_jobs_reach_the_receiver_signed_with_the_secret_shown_once(
    api_manager, receiver, settings, django_capture_on_commit_callbacks
):
    _, secret = register(api_manager, receiver.url)
    succeeded = submit(api_manager)
    assert run(succeeded, django_capture_on_commit_callbacks) == Job.Status.SUCCEEDED
    failing = FakeServer()
    failing.replies = [(400, {"error": {"message": "bad request"}}, 0)]
    settings.GENERATION_ENGINE = "jobs.engines.OpenAICompatibleEngine"
    settings.OPENAI_BASE_URL, settings.OPENAI_MAX_RETRIES = failing.url, 0
    failed = submit(api_manager)
    assert run(failed, django_capture_on_commit_callbacks) == Job.Status.FAILED
    failing.close()
    assert receiver.requests == []  # the jobs' transactions only wrote rows

    assert run_outbound_queue() == 2

    assert len(receiver.requests) == 2
    for request, job_id, event in zip(
        receiver.requests, [succeeded, failed], ["job.succeeded", "job.failed"], strict=True
    ):
        payload = verify(secret, request)
        assert payload["type"] == event
        assert payload["data"] == api_manager.get(f"/api/v1/status/{job_id}").json()
        assert payload["timestamp"].endswith("Z")
        delivery = WebhookDelivery.objects.get(public_id=request["headers"]["webhook-id"])
        assert delivery.public_id.startswith("msg_")
        assert request["headers"]["webhook-signature"].startswith("v1,")
        assert (delivery.status, delivery.attempts, delivery.last_response_status) == (
            "succeeded",
            1,
            200,
        )
        assert delivery.last_attempt_at is not None and delivery.last_duration_ms is not None
    with pytest.raises(WebhookVerificationError):
        verify("whsec_" + "A" * 43 + "=", receiver.requests[0])


def test_a_receiver_failing_twice_gets_the_same_webhook_id_three_times(
    api_manager, receiver, django_capture_on_commit_callbacks
):
    receiver.replies = [(500, 0), (500, 0), (200, 0)]
    _, secret = register(api_manager, receiver.url)
    run(submit(api_manager), django_capture_on_commit_callbacks)
    run_outbound_queue()
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_response_status) == (
        "pending",
        1,
        500,
    )

    # Not before its backoff (5 s, then 5 min) has passed.
    assert webhooks_deliver_due()["pending"] == 0
    assert len(receiver.requests) == 1
    webhooks_deliver_due(now=timezone.now() + timedelta(seconds=6))
    webhooks_deliver_due(now=timezone.now() + timedelta(seconds=6 + 301))

    assert len(receiver.requests) == 3
    ids = {r["headers"]["webhook-id"] for r in receiver.requests}
    assert ids == {delivery.public_id}
    for request in receiver.requests:
        verify(secret, request)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_response_status) == (
        "succeeded",
        3,
        200,
    )
    assert delivery.next_attempt_at is None


def test_a_delivery_fails_for_good_after_the_last_scheduled_attempt(
    api_manager, receiver, settings, django_capture_on_commit_callbacks
):
    settings.WEBHOOKS_RETRY_SCHEDULE_SECONDS = [5, 60]
    receiver.replies = [(503, 0)]
    register(api_manager, receiver.url)
    run(submit(api_manager), django_capture_on_commit_callbacks)
    run_outbound_queue()

    moment = timezone.now()
    for _ in range(5):
        moment += timedelta(minutes=5)
        webhooks_deliver_due(now=moment)

    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == ("failed", 3, None)
    assert delivery.last_error == "The receiver answered HTTP 503."
    assert len(receiver.requests) == 3


def test_a_hanging_receiver_is_a_failed_attempt_and_the_job_is_unaffected(
    api_manager, receiver, settings, django_capture_on_commit_callbacks
):
    settings.WEBHOOKS_DEADLINE_SECONDS = 0.5
    receiver.replies = [(200, 3)]
    register(api_manager, receiver.url)
    job_id = submit(api_manager)

    assert run(job_id, django_capture_on_commit_callbacks) == Job.Status.SUCCEEDED
    assert receiver.requests == []
    run_outbound_queue()

    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("pending", 1)
    assert delivery.last_error == "No complete answer within 0.5 seconds."
    assert delivery.last_response_status is None
    assert delivery.next_attempt_at > timezone.now()
    assert Job.objects.get(job_id=job_id).status == Job.Status.SUCCEEDED
    assert api_manager.get(f"/api/v1/status/{job_id}").json()["status"] == "succeeded"


def test_the_outbox_rolls_back_with_a_rolled_back_transition(
    api_manager, receiver, django_capture_on_commit_callbacks
):
    register(api_manager, receiver.url)
    job = Job.objects.get(job_id=submit(api_manager))

    with (
        django_capture_on_commit_callbacks() as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        job_cancel(job=job, actor=SYSTEM)
        assert WebhookDelivery.objects.count() == 1
        raise RuntimeError("the transition fails after the event was recorded")

    assert callbacks == []
    assert not WebhookDelivery.objects.exists()
    assert Job.objects.get(pk=job.pk).status == Job.Status.QUEUED

    with django_capture_on_commit_callbacks(execute=True):
        job_cancel(job=job, actor=SYSTEM)
    assert run_outbound_queue() == 1
    assert receiver.json(0)["type"] == "job.canceled"
    assert receiver.json(0)["data"]["status"] == "canceled"


def test_a_test_keys_jobs_notify_only_test_endpoints_and_a_live_keys_only_live_ones(
    api_manager, test_manager, client_for, receiver, django_capture_on_commit_callbacks
):
    test_client = client_for(test_manager[1])
    live_id, _ = register(api_manager, receiver.url + "?env=live")
    test_id, test_secret = register(test_client, receiver.url + "?env=test")

    run(submit(test_client), django_capture_on_commit_callbacks)
    run(submit(api_manager), django_capture_on_commit_callbacks)

    rows = WebhookDelivery.objects.order_by("pk")
    pairs = [(d.endpoint.public_id, d.payload["data"]["test"]) for d in rows]
    assert pairs == [(test_id, True), (live_id, False)]
    run_outbound_queue()
    assert verify(test_secret, receiver.requests[0])["data"]["test"] is True


def test_only_enabled_endpoints_subscribed_to_the_event_get_it(
    api_manager, receiver, django_capture_on_commit_callbacks
):
    register(api_manager, receiver.url, events=["job.failed"])
    disabled_id, _ = register(api_manager, receiver.url)
    api_manager.patch(f"/api/v1/webhooks/{disabled_id}", {"enabled": False}, format="json")
    wanted_id, _ = register(api_manager, receiver.url, events=["job.succeeded"])

    run(submit(api_manager), django_capture_on_commit_callbacks)

    assert [d.endpoint.public_id for d in WebhookDelivery.objects.all()] == [wanted_id]


def test_the_readme_receiver_verifies_a_real_delivery(
    api_manager, receiver, django_capture_on_commit_callbacks
):
    readme = (Path(django_settings.BASE_DIR) / "README.md").read_text()
    code = re.search(r"<!-- webhook-receiver -->\n```python\n(.*?)```", readme, re.S).group(1)
    namespace: dict = {}
    exec(code, namespace)
    verify_webhook = namespace["verify_webhook"]
    _, secret = register(api_manager, receiver.url)
    run(submit(api_manager), django_capture_on_commit_callbacks)
    run_outbound_queue()

    request = receiver.requests[0]
    headers = {k.lower(): v for k, v in request["headers"].items()}
    assert verify_webhook(secret, headers, request["body"]) is True
    assert verify_webhook(secret, headers, request["body"] + b" ") is False
    assert verify_webhook("whsec_" + "A" * 43 + "=", headers, request["body"]) is False


def test_a_job_event_carries_the_jobs_project(
    org, make_key, client_for, receiver, django_capture_on_commit_callbacks
):
    web = project_create(organization=org, name="Web", actor=SYSTEM)
    _, plaintext = make_key(
        org,
        project=web,
        permissions=[Permission.KEYS_MANAGE, Permission.JOBS_WRITE, Permission.JOBS_READ],
    )
    client = client_for(plaintext)
    _, secret = register(client, receiver.url)
    job_id = submit(client)
    run(job_id, django_capture_on_commit_callbacks)

    assert run_outbound_queue() == 1

    payload = verify(secret, receiver.requests[0])
    assert payload["data"]["job_id"] == job_id
    assert payload["data"]["project"] == web.project_id
