"""Running jobs: claim with a conditional UPDATE, finish fenced on the attempt, reconcile.

A worker claims a job (queued, or running with an expired lease) and counts the attempt on
the row, since django-q2 does not count a worker killed mid-task. Finishing is fenced on the
attempt number, so a worker that lost its lease cannot overwrite a newer attempt.

A cancel requested while the job runs (``jobs.services.cancel``) is looked at between steps:
before the engine is called, after it returns, and when the result is stored (success is
fenced on no cancel being requested), so the job ends canceled, charged what the engine
reported, or succeeded, never both.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from billing.services import credits_capture, credits_release
from jobs.engines import EngineError, GenerationRequest, get_engine, watermark
from jobs.events import job_finished
from jobs.models import Job
from jobs.services.admission import counters_job_left_flight
from jobs.services.cancel import job_cancel_finish
from jobs.services.pricing import job_charge
from jobs.services.queue import enqueue
from jobs.status import job_status_changed

logger = logging.getLogger(__name__)


def job_claim(*, job_id: str, now=None) -> Job | None:
    """Claim a job for this worker: queued, or running with an expired lease. Count the attempt.

    Return the claimed job, or None when another worker holds it or it is finished. A running
    job whose cancel was requested is not run again: the reconciler finishes it as canceled.
    """
    now = now or timezone.now()
    claimable = Q(status=Job.Status.QUEUED) | Q(
        status=Job.Status.RUNNING, lease_expires_at__lt=now, cancel_requested_at__isnull=True
    )
    updated = (
        Job.objects.filter(job_id=job_id)
        .filter(claimable)
        .update(
            status=Job.Status.RUNNING,
            attempts=F("attempts") + 1,
            lease_expires_at=now + timedelta(seconds=settings.JOBS_LEASE_SECONDS),
            started_at=now,
        )
    )
    if not updated:
        return None
    job = Job.objects.select_related("api_key", "organization").get(job_id=job_id)
    job_status_changed(job)
    return job


@transaction.atomic
def job_succeed(*, job: Job, result: dict) -> bool:
    """Store the result and the usage the engine reported, charge what the job cost and
    release the rest of its reservation, if this attempt still holds the job and no cancel was
    requested (then nothing is written and False is returned).

    The charge is the reported usage at the rates of submission time, never more than the
    reservation; a result without usable token counts is charged the whole reservation.
    """
    now = timezone.now()
    charge = job_charge(job, result)
    done = Job.objects.filter(
        pk=job.pk,
        status=Job.Status.RUNNING,
        attempts=job.attempts,
        cancel_requested_at__isnull=True,
    ).update(
        status=Job.Status.SUCCEEDED,
        result=result,
        finished_at=now,
        lease_expires_at=None,
        input_tokens=charge.input_tokens,
        output_tokens=charge.output_tokens,
        credits_charged=charge.charged,
    )
    if done:
        credits_capture(job=job, charged=charge.charged)
        counters_job_left_flight(job)
        job_finished(job)
        job_status_changed(job)
    return bool(done)


@transaction.atomic
def job_fail(
    *,
    job: Job,
    code: str,
    message: str,
    from_status=Job.Status.RUNNING,
    fence_attempts: bool = True,
) -> bool:
    """Mark the job failed for good and release its credits.

    A job whose cancel was requested is not failed (False): it ends canceled instead
    (``job_cancel_finish``), so a cancel that was answered "requested" always ends so.
    """
    qs = Job.objects.filter(pk=job.pk, status=from_status, cancel_requested_at=None)
    if fence_attempts:
        qs = qs.filter(attempts=job.attempts)
    done = qs.update(
        status=Job.Status.FAILED,
        error_code=code[:64],
        error_message=message[:500],
        finished_at=timezone.now(),
        lease_expires_at=None,
    )
    if done:
        credits_release(job=job)
        counters_job_left_flight(job)
        job_finished(job)
        job_status_changed(job)
    return bool(done)


def job_requeue(*, job: Job) -> bool:
    """Put a running job back in the queue for another attempt (after a retryable error).

    A job whose cancel was requested is not requeued (False): it is to be finished as canceled.
    """
    with transaction.atomic():
        done = Job.objects.filter(
            pk=job.pk, status=Job.Status.RUNNING, attempts=job.attempts, cancel_requested_at=None
        ).update(status=Job.Status.QUEUED, lease_expires_at=None, enqueued_at=timezone.now())
        if done:
            enqueue(job)
            job_status_changed(job)
    return bool(done)


def job_run(*, job_id: str) -> str | None:
    """Claim and run one job: the body of the worker's task. Return the job's new status.

    A cancel requested meanwhile stops the job before the engine is called (nothing charged),
    or after it returned (charged what it reported), instead of retrying or storing a result.
    """
    job = job_claim(job_id=job_id)
    if job is None:
        return None
    if job_cancel_finish(job=job):
        return Job.Status.CANCELED
    if job.attempts > settings.JOBS_MAX_ATTEMPTS:
        return _fail_or_stop(
            job,
            code="attempts_exhausted",
            message=f"The job did not finish after {settings.JOBS_MAX_ATTEMPTS} attempts.",
        )
    request = GenerationRequest(
        job.prompt, job.options, job.test, model=job.model or None, max_tokens=job.max_tokens
    )
    try:
        # A test key's job runs the offline engine, whatever GENERATION_ENGINE says.
        result = get_engine(test=job.test).generate(request)
    except EngineError as exc:
        # Requeueing and failing refuse a cancel-requested job, which then ends canceled.
        if exc.retryable and job.attempts < settings.JOBS_MAX_ATTEMPTS:
            logger.warning(
                "Job %s attempt %d failed (%s); requeued", job.job_id, job.attempts, exc.code
            )
            return _requeue_or_stop(job)
        return _fail_or_stop(job, code=exc.code, message=exc.message)
    except Exception:
        logger.exception("Job %s: engine error", job.job_id)
        if job.attempts < settings.JOBS_MAX_ATTEMPTS:
            return _requeue_or_stop(job)
        return _fail_or_stop(job, code="generation_failed", message="The generation failed.")
    if job_cancel_finish(job=job, result=result):
        return Job.Status.CANCELED
    if job.test:
        result = watermark(result)
    if job_succeed(job=job, result=result):
        return Job.Status.SUCCEEDED
    # The cancel arrived while the result was being stored: charge what the engine reported.
    if job_cancel_finish(job=job, result=result):
        return Job.Status.CANCELED
    return None  # A newer attempt holds the job.


def _fail_or_stop(job: Job, *, code: str, message: str) -> str | None:
    if job_fail(job=job, code=code, message=message):
        return Job.Status.FAILED
    if job_cancel_finish(job=job):  # its cancel was requested: it stops, charged nothing
        return Job.Status.CANCELED
    return None


def _requeue_or_stop(job: Job) -> str | None:
    if job_requeue(job=job):
        return Job.Status.QUEUED
    if job_cancel_finish(job=job):  # its cancel was requested: it stops, charged nothing
        return Job.Status.CANCELED
    return None


def jobs_reconcile(*, now=None) -> dict:
    """Recover jobs a dead worker or a lost queue message left behind.

    Queued jobs not picked up within ``JOBS_REQUEUE_AFTER_SECONDS`` and running jobs past their
    lease are enqueued again; those that used all their attempts are failed and their credits
    released. A running job past its lease whose cancel was requested is finished as canceled,
    its credits released (its engine never reported back). No job stays ``running`` forever.
    """
    now = now or timezone.now()
    stale_queued = Q(
        status=Job.Status.QUEUED,
        enqueued_at__lt=now - timedelta(seconds=settings.JOBS_REQUEUE_AFTER_SECONDS),
    )
    expired_running = Q(status=Job.Status.RUNNING, lease_expires_at__lt=now)
    counts = {"requeued": 0, "failed": 0, "canceled": 0}
    for job in Job.objects.filter(stale_queued | expired_running).order_by("id")[:500]:
        if job.attempts >= settings.JOBS_MAX_ATTEMPTS and not job.cancel_requested:
            if job_fail(
                job=job,
                code="attempts_exhausted",
                message=f"The job did not finish after {job.attempts} attempts.",
                from_status=job.status,
            ):
                counts["failed"] += 1
                continue
        elif not job.cancel_requested:
            with transaction.atomic():
                moved = Job.objects.filter(
                    pk=job.pk, status=job.status, attempts=job.attempts, cancel_requested_at=None
                ).update(status=Job.Status.QUEUED, lease_expires_at=None, enqueued_at=now)
                if moved:
                    enqueue(job)
                    job_status_changed(job)
                    counts["requeued"] += 1
                    continue
        # Its cancel was requested, also between the read above and the moves that refused it.
        if job.status == Job.Status.RUNNING and job_cancel_finish(job=job, now=now):
            counts["canceled"] += 1
    if any(counts.values()):
        logger.info("Reconciled jobs: %s", counts)
    return counts
