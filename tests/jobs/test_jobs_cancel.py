"""``POST /api/v1/jobs/{job_id}/cancel``: queued jobs stop at once, running ones at their
worker's next step, charged only what the engine reported; finished jobs are 409; nobody but
the key that created a job cancels it; a cancel racing the worker ends in one terminal state.
"""

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.db.models import Sum
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import AuditEvent
from billing.models import LedgerEntry
from billing.selectors import credits_balance
from jobs.engines import DevelopmentEngine, EngineError
from jobs.models import Job
from jobs.selectors import spend_for_key
from jobs.services import (
    job_cancel,
    job_cancel_finish,
    job_claim,
    job_fail,
    job_run,
    job_submit,
    job_succeed,
    jobs_reconcile,
)
from tests.helpers import SYSTEM, bearer, requires_postgres


def cancel_url(job_id: str) -> str:
    return f"/api/v1/jobs/{job_id}/cancel"


def ledger_sum(org) -> int:
    return LedgerEntry.objects.filter(account__organization=org).aggregate(s=Sum("amount"))["s"]


def settlements(job) -> list[str]:
    kinds = [LedgerEntry.Kind.CAPTURE, LedgerEntry.Kind.RELEASE]
    return list(LedgerEntry.objects.filter(job=job, kind__in=kinds).values_list("kind", flat=True))


def snapshot(org) -> dict:
    """Everything a refused cancel must leave as it was."""
    return {
        "jobs": list(Job.objects.filter(organization=org).order_by("id").values()),
        "ledger": LedgerEntry.objects.count(),
        "audit": AuditEvent.objects.count(),
        "balance": credits_balance(organization=org),
    }


@pytest.fixture
def funded(make_org, make_key, client_for):
    org = make_org(credits=1000)
    key, plaintext = make_key(org)
    return org, key, client_for(plaintext)


def submit(key, **options) -> Job:
    return job_submit(key=key, prompt="a job to cancel, four words", options=options).job


# --- a queued job ------------------------------------------------------------------------------


def test_a_queued_job_is_canceled_at_once_and_its_credits_come_back(funded):
    org, key, client = funded
    before = credits_balance(organization=org)
    job = submit(key)
    assert credits_balance(organization=org) < before

    response = client.post(cancel_url(job.job_id))

    assert response.status_code == 200
    body = response.json()
    assert body == client.get(f"/api/v1/status/{job.job_id}").json()
    assert (body["status"], body["cancel_requested"]) == ("canceled", True)
    assert body["credits_charged"] == 0 and body["finished_at"]
    assert body["error"] == {
        "code": "canceled",
        "message": f"Canceled through the API by key {key.key_id}.",
    }
    assert settlements(job) == [LedgerEntry.Kind.RELEASE]
    assert credits_balance(organization=org) == before == ledger_sum(org)
    event = AuditEvent.objects.get(action="job.canceled", target_id=job.job_id)
    assert (event.actor_key, event.actor_user) == (key, None)
    assert job_run(job_id=job.job_id) is None  # a worker holding its message does nothing


# --- a running job -----------------------------------------------------------------------------


def test_a_running_job_is_asked_to_stop_and_a_repeat_changes_nothing(funded):
    org, key, client = funded
    job = submit(key)
    job_claim(job_id=job.job_id)
    balance = credits_balance(organization=org)

    first = client.post(cancel_url(job.job_id))
    again = client.post(cancel_url(job.job_id))

    assert first.status_code == again.status_code == 200
    assert (first.json()["status"], first.json()["cancel_requested"]) == ("running", True)
    assert again.json() == first.json()
    assert client.get(f"/api/v1/status/{job.job_id}").json()["cancel_requested"] is True
    assert client.get("/api/v1/jobs").json()["results"][0]["cancel_requested"] is True
    assert settlements(job) == []
    assert credits_balance(organization=org) == balance
    events = AuditEvent.objects.filter(target_id=job.job_id, action__startswith="job.cancel")
    assert [(e.action, e.actor_key) for e in events] == [("job.cancel_requested", key)]


class CancelDuringRunEngine(DevelopmentEngine):
    """The development engine, with a cancel requested through the API while it runs; the
    test sets ``client``, ``job_id`` and optionally ``error``."""

    client: APIClient
    job_id: str
    error: EngineError | None = None

    def generate(self, request):
        response = type(self).client.post(cancel_url(type(self).job_id))
        assert response.json()["status"] == "running"
        if type(self).error is not None:
            raise type(self).error
        return super().generate(request)


@pytest.fixture
def cancel_during_run(settings):
    settings.GENERATION_ENGINE = f"{__name__}.CancelDuringRunEngine"
    yield CancelDuringRunEngine
    CancelDuringRunEngine.error = None


def test_a_job_canceled_while_the_engine_ran_pays_only_what_the_engine_reported(
    funded, cancel_during_run
):
    org, key, client = funded
    before = credits_balance(organization=org)
    job = submit(key, model="gpt-4o", max_tokens=4000)  # reserves 16 credits, uses 1
    cancel_during_run.client, cancel_during_run.job_id = client, job.job_id

    assert job_run(job_id=job.job_id) == Job.Status.CANCELED

    job.refresh_from_db()
    assert job.status == Job.Status.CANCELED
    assert job.result is None  # the result is not stored
    assert job.usage is not None
    assert 0 < job.credits_charged < job.credits_reserved
    assert settlements(job) == [LedgerEntry.Kind.CAPTURE]
    assert credits_balance(organization=org) == before - job.credits_charged == ledger_sum(org)
    # A canceled job's charge is spend like a succeeded one's.
    assert spend_for_key(key=key, since=None) == job.credits_charged
    assert client.get(f"/api/v1/status/{job.job_id}").json()["credits_charged"] == (
        job.credits_charged
    )


@pytest.mark.parametrize("retryable", [True, False])
def test_a_cancel_requested_job_whose_engine_fails_is_canceled_not_retried(
    funded, cancel_during_run, retryable
):
    org, key, client = funded
    before = credits_balance(organization=org)
    job = submit(key)
    cancel_during_run.client, cancel_during_run.job_id = client, job.job_id
    cancel_during_run.error = EngineError("engine_unavailable", "Down.", retryable=retryable)

    assert job_run(job_id=job.job_id) == Job.Status.CANCELED

    job.refresh_from_db()
    assert (job.status, job.credits_charged, job.attempts) == (Job.Status.CANCELED, 0, 1)
    assert settlements(job) == [LedgerEntry.Kind.RELEASE]
    assert credits_balance(organization=org) == before == ledger_sum(org)


def test_success_is_not_stored_once_a_cancel_was_requested(funded):
    org, key, client = funded
    job = submit(key)
    running = job_claim(job_id=job.job_id)
    client.post(cancel_url(job.job_id))
    result = {"text": "late", "usage": {"input_tokens": 10, "output_tokens": 10}}

    assert job_succeed(job=running, result=result) is False
    assert settlements(job) == []
    assert job_cancel_finish(job=running, result=result) is True
    assert job_cancel_finish(job=running, result=result) is False  # once only

    job.refresh_from_db()
    assert (job.status, job.result) == (Job.Status.CANCELED, None)
    assert settlements(job) == [LedgerEntry.Kind.CAPTURE]
    assert credits_balance(organization=org) == ledger_sum(org)


def test_a_cancel_before_the_engine_returned_charges_nothing(funded):
    org, key, client = funded
    before = credits_balance(organization=org)
    job = submit(key)
    running = job_claim(job_id=job.job_id)
    client.post(cancel_url(job.job_id))

    assert job_cancel_finish(job=running) is True

    job.refresh_from_db()
    assert (job.status, job.credits_charged) == (Job.Status.CANCELED, 0)
    assert settlements(job) == [LedgerEntry.Kind.RELEASE]
    assert credits_balance(organization=org) == before == ledger_sum(org)


def test_the_reconciler_finishes_a_cancel_requested_job_whose_lease_expired(funded, settings):
    org, key, client = funded
    before = credits_balance(organization=org)
    job = submit(key)
    now = timezone.now()
    job_claim(job_id=job.job_id, now=now)
    client.post(cancel_url(job.job_id))
    later = now + timedelta(seconds=settings.JOBS_LEASE_SECONDS + 1)

    # No other worker picks it up again, and the reconciler does not requeue it.
    assert job_claim(job_id=job.job_id, now=later) is None
    assert jobs_reconcile(now=later) == {"requeued": 0, "failed": 0, "canceled": 1}

    job.refresh_from_db()
    assert (job.status, job.credits_charged) == (Job.Status.CANCELED, 0)
    assert settlements(job) == [LedgerEntry.Kind.RELEASE]
    assert credits_balance(organization=org) == before == ledger_sum(org)
    assert jobs_reconcile(now=later) == {"requeued": 0, "failed": 0, "canceled": 0}


def test_a_cancel_requested_job_out_of_attempts_ends_canceled_not_failed(funded, settings):
    settings.JOBS_MAX_ATTEMPTS = 1
    org, key, client = funded
    job = submit(key)
    now = timezone.now()
    running = job_claim(job_id=job.job_id, now=now)
    client.post(cancel_url(job.job_id))

    assert job_fail(job=running, code="x", message="Failed.") is False
    later = now + timedelta(seconds=settings.JOBS_LEASE_SECONDS + 1)
    assert jobs_reconcile(now=later) == {"requeued": 0, "failed": 0, "canceled": 1}

    job.refresh_from_db()
    assert (job.status, job.error_code) == (Job.Status.CANCELED, "canceled")
    assert settlements(job) == [LedgerEntry.Kind.RELEASE]
    assert credits_balance(organization=org) == ledger_sum(org)


# --- finished jobs -----------------------------------------------------------------------------


def finish(job, status):
    if status == "succeeded":
        job_run(job_id=job.job_id)
    elif status == "failed":
        job_fail(job=job_claim(job_id=job.job_id), code="x", message="Failed.")
    else:
        job_cancel(job=job, actor=SYSTEM)


@pytest.mark.parametrize("status", ["succeeded", "failed", "canceled"])
def test_a_finished_job_is_409_job_not_cancelable_and_nothing_is_written(funded, status):
    org, key, client = funded
    job = submit(key)
    finish(job, status)
    before = snapshot(org)

    response = client.post(cancel_url(job.job_id))

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "job_not_cancelable"
    assert snapshot(org) == before


# --- who may cancel ----------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["sibling", "other_org", "test_key", "write_less"])
def test_only_the_creating_key_with_jobs_write_cancels(funded, make_org, make_key, client_for, who):
    org, key, _client = funded
    job = submit(key)
    intruder_org = make_org() if who == "other_org" else org
    fields = {
        "sibling": {},
        "other_org": {},
        "test_key": {"type": "test"},
        "write_less": {"permissions": ["jobs:read"]},
    }[who]
    _intruder, plaintext = make_key(intruder_org, **fields)
    before = snapshot(org)

    response = client_for(plaintext).post(cancel_url(job.job_id))

    expected = (403, "insufficient_permissions") if who == "write_less" else (404, "job_not_found")
    assert (response.status_code, response.json()["error"]["code"]) == expected
    assert snapshot(org) == before


def test_a_key_with_jobs_write_only_cancels_its_own_job(org, make_key, client_for):
    key, plaintext = make_key(org, permissions=["jobs:write"])
    job = submit(key)

    response = client_for(plaintext).post(cancel_url(job.job_id))

    assert (response.status_code, response.json()["status"]) == (200, "canceled")


@pytest.mark.parametrize(
    "job_id",
    ["job_" + "x" * 5000, "j%C3%B6b_%E2%9C%93", "job_%00", "%00", "job_%F0%9F%92%A5", "..", "%20"],
)
def test_malformed_job_ids_are_404_and_never_500(funded, job_id):
    org, key, client = funded
    submit(key)
    before = snapshot(org)

    response = client.post(cancel_url(job_id))

    assert response.status_code == 404
    assert response.json()["error"]["code"] in ("job_not_found", "not_found")
    assert snapshot(org) == before


def test_other_methods_are_405(funded):
    _org, key, client = funded
    job = submit(key)

    response = client.get(cancel_url(job.job_id))

    assert response.status_code == 405
    Job.objects.get(pk=job.pk, status=Job.Status.QUEUED)


# --- a cancel racing the worker ----------------------------------------------------------------


class RaceEngine(DevelopmentEngine):
    """Return once the cancel thread is released, after ``lag`` seconds, so the two race for
    the row; the lag varies from round to round so that either may get there first."""

    barrier: threading.Barrier
    lag: float = 0

    def generate(self, request):
        result = super().generate(request)
        type(self).barrier.wait(timeout=10)
        time.sleep(type(self).lag)
        return result


@requires_postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_cancel_racing_the_workers_success_ends_in_one_terminal_state(
    make_org, make_key, settings
):
    settings.GENERATION_ENGINE = f"{__name__}.RaceEngine"
    org = make_org(credits=1000)
    key, plaintext = make_key(org)
    for lag in (0, 0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.3):
        job = submit(key, model="gpt-4o", max_tokens=2000)
        RaceEngine.barrier, RaceEngine.lag = threading.Barrier(2), lag
        answers = {}

        def worker(job_id=job.job_id, answers=answers):
            try:
                answers["worker"] = job_run(job_id=job_id)
            finally:
                connection.close()

        def cancel(job_id=job.job_id, answers=answers):
            client = APIClient()
            client.credentials(HTTP_AUTHORIZATION=bearer(plaintext))
            try:
                RaceEngine.barrier.wait(timeout=10)
                answers["cancel"] = client.post(cancel_url(job_id))
            finally:
                connection.close()

        threads = [threading.Thread(target=worker), threading.Thread(target=cancel)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)

        job.refresh_from_db()
        response = answers["cancel"]
        assert job.status in (Job.Status.SUCCEEDED, Job.Status.CANCELED)
        assert answers["worker"] == job.status
        assert len(settlements(job)) == 1
        assert settlements(job) == [LedgerEntry.Kind.CAPTURE]  # the engine returned
        if job.status == Job.Status.SUCCEEDED:
            assert response.status_code == 409
            assert response.json()["error"]["code"] == "job_not_cancelable"
            assert job.result is not None
        else:
            assert response.status_code == 200
            assert response.json()["cancel_requested"] is True
            assert job.result is None
        assert 0 < job.credits_charged < job.credits_reserved
    assert credits_balance(organization=org) == ledger_sum(org)
    charged = Job.objects.filter(organization=org).aggregate(s=Sum("credits_charged"))["s"]
    assert credits_balance(organization=org) == 1000 - charged
