"""``POST /api/v1/generate`` and ``GET /api/v1/status/{job_id}`` through the HTTP test client."""

import threading
from datetime import timedelta
from unittest import mock

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from billing.models import LedgerEntry
from billing.selectors import credits_balance
from jobs.engines import WATERMARK
from jobs.models import Job
from jobs.tasks import run_job
from tests.helpers import bearer, requires_postgres

JOB_FIELDS = {
    "job_id",
    "project",
    "status",
    "created_at",
    "started_at",
    "finished_at",
    "result",
    "error",
    "model",
    "usage",
    "credits_reserved",
    "credits_charged",
    "test",
    "cancel_requested",
}


def generate(client, body=None, **headers):
    body = body or {"prompt": "a red fox"}
    return client.post("/api/v1/generate", body, format="json", **headers)


def test_generate_returns_202_with_location_and_job_body(org, live_key, client_for):
    _key, plaintext = live_key
    response = generate(client_for(plaintext))

    assert response.status_code == 202
    body = response.json()
    assert set(body) >= JOB_FIELDS
    assert body["job_id"].startswith("job_")
    assert body["status"] == "queued"
    assert body["result"] is None
    assert body["error"] is None
    assert body["started_at"] is None and body["finished_at"] is None
    assert body["credits_charged"] == 0
    assert body["test"] is False
    assert response["Location"] == f"/api/v1/status/{body['job_id']}"
    assert Job.objects.filter(job_id=body["job_id"], organization=org).exists()


def test_submitting_reserves_the_jobs_credits(org, live_key, client_for):
    _key, plaintext = live_key
    before = credits_balance(organization=org)

    job_id = generate(client_for(plaintext)).json()["job_id"]

    assert credits_balance(organization=org) == before - 1
    reserve = LedgerEntry.objects.get(job__job_id=job_id)
    assert (reserve.kind, reserve.amount) == (LedgerEntry.Kind.RESERVE, -1)


def test_status_polls_to_succeeded_after_the_task_runs(
    org, live_key, client_for, django_capture_on_commit_callbacks
):
    _key, plaintext = live_key
    client = client_for(plaintext)
    job_id = generate(client, {"prompt": "three word prompt"}).json()["job_id"]

    queued = client.get(f"/api/v1/status/{job_id}")
    assert queued.status_code == 200
    assert queued.json()["status"] == "queued"

    # The worker's transitions reach the read model (with Redis) when they commit.
    with django_capture_on_commit_callbacks(execute=True):
        assert run_job(job_id) == Job.Status.SUCCEEDED

    done = client.get(f"/api/v1/status/{job_id}").json()
    assert set(done) == JOB_FIELDS
    assert done["status"] == "succeeded"
    assert done["result"]["text"].endswith("prompt word three")
    assert done["error"] is None
    assert done["credits_charged"] == 1
    assert done["started_at"] and done["finished_at"]


def test_status_of_a_job_made_by_another_key_is_404(org, make_key, live_key, client_for):
    _key, plaintext = live_key
    job_id = generate(client_for(plaintext)).json()["job_id"]
    _other, other_plaintext = make_key(org)

    response = client_for(other_plaintext).get(f"/api/v1/status/{job_id}")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "job_not_found"


def test_same_idempotency_key_and_body_returns_the_same_job(org, live_key, client_for):
    _key, plaintext = live_key
    client = client_for(plaintext)

    first = generate(client, HTTP_IDEMPOTENCY_KEY="order-42")
    second = generate(client, HTTP_IDEMPOTENCY_KEY="order-42")

    assert first.status_code == second.status_code == 202
    assert first.json()["job_id"] == second.json()["job_id"]
    assert second["Location"] == first["Location"]
    assert second["Idempotent-Replayed"] == "true"
    assert Job.objects.filter(organization=org).count() == 1
    assert LedgerEntry.objects.filter(kind=LedgerEntry.Kind.RESERVE).count() == 1


def test_replay_returns_the_job_when_the_balance_has_reached_zero(make_org, make_key, client_for):
    org = make_org(credits=1)
    _key, plaintext = make_key(org)
    client = client_for(plaintext)
    first = generate(client, HTTP_IDEMPOTENCY_KEY="only-credit")
    assert first.status_code == 202
    assert credits_balance(organization=org) == 0

    replay = generate(client, HTTP_IDEMPOTENCY_KEY="only-credit")
    fresh = generate(client, HTTP_IDEMPOTENCY_KEY="another-request")

    assert replay.status_code == 202
    assert replay.json()["job_id"] == first.json()["job_id"]
    assert fresh.status_code == 402
    assert fresh.json()["error"]["code"] == "insufficient_credits"


def test_same_idempotency_key_with_another_body_gets_422(org, live_key, client_for):
    _key, plaintext = live_key
    client = client_for(plaintext)
    generate(client, {"prompt": "first"}, HTTP_IDEMPOTENCY_KEY="k-1")

    response = generate(client, {"prompt": "second"}, HTTP_IDEMPOTENCY_KEY="k-1")

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "idempotency_key_reused"
    assert Job.objects.filter(organization=org).count() == 1


def test_idempotency_key_is_reusable_after_24_hours(org, live_key, client_for):
    _key, plaintext = live_key
    client = client_for(plaintext)
    first = generate(client, {"prompt": "first"}, HTTP_IDEMPOTENCY_KEY="daily")

    later = timezone.now() + timedelta(hours=24, seconds=1)
    with mock.patch("django.utils.timezone.now", return_value=later):
        again = generate(client, {"prompt": "a different body"}, HTTP_IDEMPOTENCY_KEY="daily")

    assert again.status_code == 202
    assert again.json()["job_id"] != first.json()["job_id"]
    assert Job.objects.filter(organization=org).count() == 2


def test_idempotency_key_still_binds_just_before_24_hours(org, live_key, client_for):
    _key, plaintext = live_key
    client = client_for(plaintext)
    generate(client, {"prompt": "first"}, HTTP_IDEMPOTENCY_KEY="daily")

    later = timezone.now() + timedelta(hours=23, minutes=59)
    with mock.patch("django.utils.timezone.now", return_value=later):
        response = generate(client, {"prompt": "a different body"}, HTTP_IDEMPOTENCY_KEY="daily")

    assert response.status_code == 422


def test_insufficient_credits_gets_402_and_leaves_no_job(make_org, make_key, client_for):
    org = make_org(credits=0)
    _key, plaintext = make_key(org)

    response = generate(client_for(plaintext))

    assert response.status_code == 402
    assert response.json()["error"]["code"] == "insufficient_credits"
    assert not Job.objects.filter(organization=org).exists()
    assert not LedgerEntry.objects.filter(kind=LedgerEntry.Kind.RESERVE).exists()


def test_test_key_works_with_zero_credits_and_its_result_is_watermarked(
    make_org, make_key, client_for
):
    org = make_org(credits=0)
    _key, plaintext = make_key(org, type="test")
    client = client_for(plaintext)

    submitted = generate(client)
    assert submitted.status_code == 202
    assert submitted.json()["test"] is True
    run_job(submitted.json()["job_id"])
    done = client.get(submitted["Location"]).json()

    assert done["status"] == "succeeded"
    assert done["result"]["text"].startswith(WATERMARK)
    assert done["result"]["watermark"] is True
    assert done["credits_charged"] == 0
    assert credits_balance(organization=org) == 0
    assert not LedgerEntry.objects.filter(job__isnull=False).exists()


@requires_postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_threads_with_the_same_idempotency_key_get_one_job(make_org, make_key):
    org = make_org(credits=10)
    _key, plaintext = make_key(org)
    barrier = threading.Barrier(2)
    results = []

    def submit():
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=bearer(plaintext))
        try:
            barrier.wait(timeout=10)
            response = generate(client, HTTP_IDEMPOTENCY_KEY="race")
            results.append((response.status_code, response.json().get("job_id")))
        finally:
            connection.close()

    threads = [threading.Thread(target=submit) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert [status for status, _ in results] == [202, 202]
    assert results[0][1] == results[1][1]
    assert Job.objects.filter(organization=org).count() == 1
    assert credits_balance(organization=org) == 9
