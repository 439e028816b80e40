"""Running jobs: claim with a conditional UPDATE, finish fenced on the attempt, reconcile.

A worker claims a job (queued, or running with an expired lease) and counts the attempt on
the row, since django-q2 does not count a worker killed mid-task. Finishing is fenced on the
attempt number, so a worker that lost its lease cannot overwrite a newer attempt.
"""

import logging
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from billing.prices import price_charge
from billing.services import credits_capture, credits_release
from jobs.engines import EngineError, GenerationRequest, get_engine, reported_usage, watermark
from jobs.events import job_finished
from jobs.models import Job
from jobs.services.submission import enqueue

logger = logging.getLogger(__name__)


def job_claim(*, job_id: str, now=None) -> Job | None:
    """Claim a job for this worker: queued, or running with an expired lease. Count the attempt.

    Return the claimed job, or None when another worker holds it or it is finished.
    """
    now = now or timezone.now()
    claimable = Q(status=Job.Status.QUEUED) | Q(status=Job.Status.RUNNING, lease_expires_at__lt=now)
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
    return Job.objects.select_related("api_key", "organization").get(job_id=job_id)


@transaction.atomic
def job_succeed(*, job: Job, result: dict) -> bool:
    """Store the result and the usage the engine reported, charge what the job cost and
    release the rest of its reservation, if this attempt still holds the job.

    The charge is the reported usage at the rates of submission time, never more than the
    reservation; a result without usable token counts is charged the whole reservation.
    """
    now = timezone.now()
    input_tokens, output_tokens = reported_usage(result)
    charged = price_charge(
        input_rate=job.input_credits_per_1k_tokens or Decimal(0),
        output_rate=job.output_credits_per_1k_tokens or Decimal(0),
        reserved=job.credits_reserved,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
    )
    if job.input_credits_per_1k_tokens is None:
        charged = job.credits_reserved  # A job priced before the price table: its flat cost.
    done = Job.objects.filter(pk=job.pk, status=Job.Status.RUNNING, attempts=job.attempts).update(
        status=Job.Status.SUCCEEDED,
        result=result,
        finished_at=now,
        lease_expires_at=None,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        credits_charged=charged,
    )
    if done:
        credits_capture(job=job, charged=charged)
        job_finished(job)
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
    """Mark the job failed for good and release its credits."""
    qs = Job.objects.filter(pk=job.pk, status=from_status)
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
        job_finished(job)
    return bool(done)


def job_requeue(*, job: Job) -> bool:
    """Put a running job back in the queue for another attempt (after a retryable error)."""
    with transaction.atomic():
        done = Job.objects.filter(
            pk=job.pk, status=Job.Status.RUNNING, attempts=job.attempts
        ).update(status=Job.Status.QUEUED, lease_expires_at=None, enqueued_at=timezone.now())
        if done:
            enqueue(job)
    return bool(done)


def job_run(*, job_id: str) -> str | None:
    """Claim and run one job: the body of the worker's task. Return the job's new status."""
    job = job_claim(job_id=job_id)
    if job is None:
        return None
    if job.attempts > settings.JOBS_MAX_ATTEMPTS:
        job_fail(
            job=job,
            code="attempts_exhausted",
            message=f"The job did not finish after {settings.JOBS_MAX_ATTEMPTS} attempts.",
        )
        return Job.Status.FAILED
    request = GenerationRequest(
        job.prompt, job.options, job.test, model=job.model or None, max_tokens=job.max_tokens
    )
    try:
        # A test key's job runs the offline engine, whatever GENERATION_ENGINE says.
        result = get_engine(test=job.test).generate(request)
    except EngineError as exc:
        if exc.retryable and job.attempts < settings.JOBS_MAX_ATTEMPTS:
            logger.warning(
                "Job %s attempt %d failed (%s); requeued", job.job_id, job.attempts, exc.code
            )
            job_requeue(job=job)
            return Job.Status.QUEUED
        job_fail(job=job, code=exc.code, message=exc.message)
        return Job.Status.FAILED
    except Exception:
        logger.exception("Job %s: engine error", job.job_id)
        if job.attempts < settings.JOBS_MAX_ATTEMPTS:
            job_requeue(job=job)
            return Job.Status.QUEUED
        job_fail(job=job, code="generation_failed", message="The generation failed.")
        return Job.Status.FAILED
    if job.test:
        result = watermark(result)
    job_succeed(job=job, result=result)
    return Job.Status.SUCCEEDED


def jobs_reconcile(*, now=None) -> dict:
    """Recover jobs a dead worker or a lost queue message left behind.

    Queued jobs not picked up within ``JOBS_REQUEUE_AFTER_SECONDS`` and running jobs past their
    lease are enqueued again; those that used all their attempts are failed and their credits
    released. No job stays ``running`` forever.
    """
    now = now or timezone.now()
    stale_queued = Q(
        status=Job.Status.QUEUED,
        enqueued_at__lt=now - timedelta(seconds=settings.JOBS_REQUEUE_AFTER_SECONDS),
    )
    expired_running = Q(status=Job.Status.RUNNING, lease_expires_at__lt=now)
    counts = {"requeued": 0, "failed": 0}
    for job in Job.objects.filter(stale_queued | expired_running).order_by("id")[:500]:
        if job.attempts >= settings.JOBS_MAX_ATTEMPTS:
            if job_fail(
                job=job,
                code="attempts_exhausted",
                message=f"The job did not finish after {job.attempts} attempts.",
                from_status=job.status,
            ):
                counts["failed"] += 1
            continue
        with transaction.atomic():
            moved = Job.objects.filter(pk=job.pk, status=job.status, attempts=job.attempts).update(
                status=Job.Status.QUEUED, lease_expires_at=None, enqueued_at=now
            )
            if moved:
                enqueue(job)
                counts["requeued"] += 1
    if counts["requeued"] or counts["failed"]:
        logger.info("Reconciled jobs: %s", counts)
    return counts
