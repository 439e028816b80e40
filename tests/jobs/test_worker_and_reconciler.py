"""The worker's side of a job: claim, run, retry, fail, fence, reconcile; and a real qcluster."""

from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.db.models import Sum
from django.utils import timezone
from django_q.models import OrmQ

from accounts.models import AuditEvent
from billing.models import LedgerEntry
from billing.selectors import credits_balance
from jobs.models import Job
from jobs.services import (
    JobStateConflict,
    job_cancel,
    job_claim,
    job_fail,
    job_retry,
    job_run,
    job_submit,
    job_succeed,
    jobs_reconcile,
)
from tests.helpers import SYSTEM
from tests.processes import qcluster, wait_for


def ledger_sum(org) -> int:
    return LedgerEntry.objects.filter(account__organization=org).aggregate(s=Sum("amount"))["s"]


def entries(job, kind) -> int:
    return LedgerEntry.objects.filter(job=job, kind=kind).count()


@pytest.fixture
def funded(make_org, make_key):
    org = make_org(credits=10)
    key, _plaintext = make_key(org)
    return org, key


def submit(key, **options) -> Job:
    return job_submit(key=key, prompt="hello worker", options=options).job


# --- the job_run service ---------------------------------------------------------------------


def test_success_captures_the_reserved_credits(funded):
    org, key = funded
    job = submit(key)

    assert job_run(job_id=job.job_id) == Job.Status.SUCCEEDED

    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED
    assert job.credits_charged == 1
    assert job.attempts == 1
    assert job.lease_expires_at is None
    assert entries(job, LedgerEntry.Kind.CAPTURE) == 1
    assert entries(job, LedgerEntry.Kind.RELEASE) == 0
    assert credits_balance(organization=org) == 9 == ledger_sum(org)


def test_retryable_engine_error_requeues_and_counts_the_attempt(funded):
    org, key = funded
    job = submit(key, simulate_error="retryable")

    assert job_run(job_id=job.job_id) == Job.Status.QUEUED

    job.refresh_from_db()
    assert job.status == Job.Status.QUEUED
    assert job.attempts == 1
    assert credits_balance(organization=org) == 9  # still reserved
    assert entries(job, LedgerEntry.Kind.RELEASE) == 0


def test_last_retryable_failure_fails_the_job_and_releases_credits(funded, settings):
    settings.JOBS_MAX_ATTEMPTS = 3
    org, key = funded
    job = submit(key, simulate_error="retryable")

    statuses = [job_run(job_id=job.job_id) for _ in range(3)]

    assert statuses == [Job.Status.QUEUED, Job.Status.QUEUED, Job.Status.FAILED]
    job.refresh_from_db()
    assert job.attempts == 3
    assert job.error == {"code": "engine_unavailable", "message": "Simulated transient failure."}
    assert job.credits_charged == 0
    assert entries(job, LedgerEntry.Kind.RELEASE) == 1
    assert credits_balance(organization=org) == 10 == ledger_sum(org)


def test_fatal_engine_error_fails_at_once_and_releases_credits(funded):
    org, key = funded
    job = submit(key, simulate_error="fatal")

    assert job_run(job_id=job.job_id) == Job.Status.FAILED

    job.refresh_from_db()
    assert job.attempts == 1
    assert job.error["code"] == "generation_failed"
    assert credits_balance(organization=org) == 10 == ledger_sum(org)


def test_finished_job_is_not_run_again(funded):
    _org, key = funded
    job = submit(key)
    job_run(job_id=job.job_id)

    assert job_run(job_id=job.job_id) is None
    job.refresh_from_db()
    assert job.attempts == 1


def test_running_job_with_a_live_lease_cannot_be_claimed(funded):
    _org, key = funded
    job = submit(key)
    now = timezone.now()

    assert job_claim(job_id=job.job_id, now=now) is not None
    assert job_claim(job_id=job.job_id, now=now + timedelta(seconds=10)) is None


def test_expired_lease_lets_another_worker_reclaim(funded, settings):
    _org, key = funded
    job = submit(key)
    now = timezone.now()
    first = job_claim(job_id=job.job_id, now=now)

    later = now + timedelta(seconds=settings.JOBS_LEASE_SECONDS + 1)
    second = job_claim(job_id=job.job_id, now=later)

    assert (first.attempts, second.attempts) == (1, 2)
    assert second.lease_expires_at > later


def test_stale_worker_cannot_overwrite_the_newer_attempt(funded, settings):
    org, key = funded
    job = submit(key)
    now = timezone.now()
    stale = job_claim(job_id=job.job_id, now=now)
    fresh = job_claim(
        job_id=job.job_id, now=now + timedelta(seconds=settings.JOBS_LEASE_SECONDS + 1)
    )

    assert job_succeed(job=fresh, result={"text": "from the new attempt"}) is True
    assert job_succeed(job=stale, result={"text": "from the old attempt"}) is False
    assert job_fail(job=stale, code="late", message="Stale worker.") is False

    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED
    assert job.result == {"text": "from the new attempt"}
    assert entries(job, LedgerEntry.Kind.CAPTURE) == 1
    assert entries(job, LedgerEntry.Kind.RELEASE) == 0
    assert credits_balance(organization=org) == 9 == ledger_sum(org)


def test_claim_beyond_the_last_attempt_fails_and_releases(funded, settings):
    settings.JOBS_MAX_ATTEMPTS = 2
    org, key = funded
    job = submit(key)
    Job.objects.filter(pk=job.pk).update(attempts=2)

    assert job_run(job_id=job.job_id) == Job.Status.FAILED

    job.refresh_from_db()
    assert job.error_code == "attempts_exhausted"
    assert credits_balance(organization=org) == 10 == ledger_sum(org)


# --- the reconciler --------------------------------------------------------------------------


def test_reconciler_requeues_a_queued_job_nobody_picked_up(funded, settings):
    _org, key = funded
    job = submit(key)
    messages = OrmQ.objects.count()
    later = timezone.now() + timedelta(seconds=settings.JOBS_REQUEUE_AFTER_SECONDS + 1)

    assert jobs_reconcile(now=later) == {"requeued": 1, "failed": 0, "canceled": 0}

    job.refresh_from_db()
    assert job.status == Job.Status.QUEUED
    assert job.enqueued_at == later
    assert OrmQ.objects.count() == messages + 1


def test_reconciler_leaves_fresh_jobs_alone(funded):
    _org, key = funded
    queued = submit(key)
    running = submit(key)
    job_claim(job_id=running.job_id)

    assert jobs_reconcile() == {"requeued": 0, "failed": 0, "canceled": 0}
    running.refresh_from_db()
    assert running.status == Job.Status.RUNNING
    queued.refresh_from_db()
    assert queued.status == Job.Status.QUEUED


def test_reconciler_requeues_a_running_job_past_its_lease(funded, settings):
    _org, key = funded
    job = submit(key)
    now = timezone.now()
    job_claim(job_id=job.job_id, now=now)
    later = now + timedelta(seconds=settings.JOBS_LEASE_SECONDS + 1)

    assert jobs_reconcile(now=later) == {"requeued": 1, "failed": 0, "canceled": 0}

    job.refresh_from_db()
    assert job.status == Job.Status.QUEUED
    assert job.lease_expires_at is None
    assert job.attempts == 1
    # The requeued job then runs to completion on the next claim.
    assert job_run(job_id=job.job_id) == Job.Status.SUCCEEDED


def test_reconciler_fails_a_job_after_its_last_attempt_and_releases(funded, settings):
    settings.JOBS_MAX_ATTEMPTS = 3
    org, key = funded
    job = submit(key)
    now = timezone.now()
    Job.objects.filter(pk=job.pk).update(attempts=2)
    job_claim(job_id=job.job_id, now=now)  # the third and last attempt, then the worker dies
    later = now + timedelta(seconds=settings.JOBS_LEASE_SECONDS + 1)

    assert jobs_reconcile(now=later) == {"requeued": 0, "failed": 1, "canceled": 0}

    job.refresh_from_db()
    assert job.status == Job.Status.FAILED
    assert job.error_code == "attempts_exhausted"
    assert job.finished_at is not None
    assert entries(job, LedgerEntry.Kind.RELEASE) == 1
    assert credits_balance(organization=org) == 10 == ledger_sum(org)
    # Running the reconciler again changes nothing: released once.
    assert jobs_reconcile(now=later) == {"requeued": 0, "failed": 0, "canceled": 0}
    assert entries(job, LedgerEntry.Kind.RELEASE) == 1


# --- support's cancel and retry --------------------------------------------------------------


def test_cancel_of_a_queued_job_releases_credits_and_is_audited(funded):
    org, key = funded
    job = submit(key)

    canceled = job_cancel(job=job, actor=SYSTEM)

    assert canceled.status == Job.Status.CANCELED
    assert canceled.error_code == "canceled"
    assert entries(job, LedgerEntry.Kind.RELEASE) == 1
    assert credits_balance(organization=org) == 10 == ledger_sum(org)
    assert AuditEvent.objects.filter(action="job.canceled", target_id=job.job_id).exists()
    # A canceled job is never picked up by a worker that still holds its message.
    assert job_run(job_id=job.job_id) is None


def test_cancel_of_a_running_job_only_asks_the_worker_to_stop(funded):
    org, key = funded
    job = submit(key)
    job_claim(job_id=job.job_id)

    requested = job_cancel(job=job, actor=SYSTEM)

    assert (requested.status, requested.cancel_requested) == (Job.Status.RUNNING, True)
    assert entries(job, LedgerEntry.Kind.RELEASE) == 0
    assert credits_balance(organization=org) == 9 == ledger_sum(org)


def test_cancel_of_a_finished_job_is_refused(funded):
    _org, key = funded
    job = submit(key)
    job_run(job_id=job.job_id)

    with pytest.raises(JobStateConflict):
        job_cancel(job=job, actor=SYSTEM)
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED


def test_retry_of_a_failed_job_queues_it_again_at_no_charge(funded):
    org, key = funded
    job = submit(key, simulate_error="fatal")
    job_run(job_id=job.job_id)

    retried = job_retry(job=job, actor=SYSTEM)

    assert retried.status == Job.Status.QUEUED
    assert (retried.attempts, retried.error) == (0, None)
    assert AuditEvent.objects.filter(action="job.retried", target_id=job.job_id).exists()
    Job.objects.filter(pk=job.pk).update(options={})  # the cause is fixed
    assert job_run(job_id=job.job_id) == Job.Status.SUCCEEDED
    job.refresh_from_db()
    assert job.credits_charged == 0
    assert credits_balance(organization=org) == 10 == ledger_sum(org)


def test_retry_of_a_succeeded_job_is_refused(funded):
    _org, key = funded
    job = submit(key)
    job_run(job_id=job.job_id)

    with pytest.raises(JobStateConflict):
        job_retry(job=job, actor=SYSTEM)


# --- a real worker process -------------------------------------------------------------------


def _database_url() -> str:
    """Return a URL for the database this test uses, for a subprocess to share it."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{Path(db['NAME']).resolve()}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


# A short lease, so a dead worker's job is stranded for seconds rather than minutes. The
# django-q2 timeout stays below the lease and the retry above the timeout, as settings demand.
WORKER_ENV = {
    "JOBS_LEASE_SECONDS": "4",
    "Q_TIMEOUT": "3",
    "Q_RETRY": "5",
    "Q_WORKERS": "1",
    "Q_POLL": "0.1",
    "LOG_LEVEL": "WARNING",
}


def worker_process():
    return qcluster({**WORKER_ENV, "DATABASE_URL": _database_url()})


def status_of(job) -> str:
    return Job.objects.values_list("status", flat=True).get(pk=job.pk)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_qcluster_worker_runs_a_submitted_job_to_success(funded):
    org, key = funded
    job = submit(key)

    with worker_process() as worker:
        wait_for(
            lambda: status_of(job) == Job.Status.SUCCEEDED,
            timeout=30,
            what="the job to succeed",
            program=worker,
        )

    job.refresh_from_db()
    assert job.result["text"].startswith("Generated")
    assert entries(job, LedgerEntry.Kind.CAPTURE) == 1
    assert credits_balance(organization=org) == 9 == ledger_sum(org)


def _kill_worker_mid_job(job) -> None:
    with worker_process() as worker:
        wait_for(
            lambda: status_of(job) == Job.Status.RUNNING,
            timeout=30,
            what="the worker to claim the job",
            program=worker,
        )
        worker.kill()
    job.refresh_from_db()
    assert job.status == Job.Status.RUNNING, "the job finished before the worker was killed"
    # Nobody finishes it now: wait for its lease to run out.
    wait_for(lambda: timezone.now() > job.lease_expires_at, timeout=10, what="the lease to expire")


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_job_of_a_killed_worker_is_reconciled_and_succeeds_after_restart(funded):
    org, key = funded
    job = submit(key, delay_ms=2000)

    _kill_worker_mid_job(job)
    assert jobs_reconcile() == {"requeued": 1, "failed": 0, "canceled": 0}

    with worker_process() as worker:
        wait_for(
            lambda: status_of(job) in Job.FINISHED,
            timeout=30,
            what="the restarted worker to finish the job",
            program=worker,
        )

    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED
    assert job.attempts == 2
    assert entries(job, LedgerEntry.Kind.CAPTURE) == 1
    assert credits_balance(organization=org) == 9 == ledger_sum(org)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_job_of_a_killed_worker_on_its_last_attempt_fails_and_releases(funded, settings):
    settings.JOBS_MAX_ATTEMPTS = 1
    org, key = funded
    job = submit(key, delay_ms=2000)

    _kill_worker_mid_job(job)
    assert jobs_reconcile() == {"requeued": 0, "failed": 1, "canceled": 0}

    job.refresh_from_db()
    assert job.status == Job.Status.FAILED
    assert job.error_code == "attempts_exhausted"
    assert entries(job, LedgerEntry.Kind.RELEASE) == 1
    assert credits_balance(organization=org) == 10 == ledger_sum(org)


def test_worker_settings_keep_the_queue_timeout_inside_the_lease():
    q = django_settings.Q_CLUSTER
    assert q["retry"] > q["timeout"]
    assert q["timeout"] < django_settings.JOBS_LEASE_SECONDS
