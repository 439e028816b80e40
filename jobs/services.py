"""Submit, run, finish, retry, cancel and reconcile generation jobs.

A job moves queued → running → succeeded | failed, or queued → canceled. A worker claims it
with a conditional UPDATE (queued, or running with an expired lease) that also counts the
attempt on the row, since django-q2 does not count a worker killed mid-task. Finishing is
fenced on the attempt number, so a worker that lost its lease cannot overwrite a newer one.
"""

import hashlib
import json
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from accounts.audit import Actor, audit_record
from apikeys.models import ApiKey
from billing.services import credits_capture, credits_release, credits_reserve
from jobs.engines import EngineError, GenerationRequest, get_engine, watermark
from jobs.models import Job
from perceptis.errors import DomainError, InvalidRequest

logger = logging.getLogger(__name__)

_IDEMPOTENCY_KEY_RE = re.compile(r"^[\x21-\x7e]{1,255}\Z")
_JOB_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,40}\Z")


class IdempotencyKeyReused(DomainError):
    code = "idempotency_key_reused"
    status_code = 422
    default_message = "This Idempotency-Key was already used with a different request body."


class JobNotFound(DomainError):
    code = "job_not_found"
    status_code = 404
    default_message = "No job with this id was created by this API key."


class JobStateConflict(DomainError):
    code = "job_state_conflict"
    status_code = 409
    default_message = "The job is not in a state that allows this."


@dataclass(frozen=True)
class Submission:
    job: Job
    replayed: bool


def _new_job_id() -> str:
    return "job_" + secrets.token_urlsafe(18).replace("-", "x").replace("_", "y")


def _request_hash(prompt: str, options: dict) -> str:
    canonical = json.dumps({"prompt": prompt, "options": options}, sort_keys=True)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def clean_idempotency_key(value: str | None) -> str | None:
    if value is None:
        return None
    if not _IDEMPOTENCY_KEY_RE.match(value):
        raise InvalidRequest(
            "Idempotency-Key must be 1 to 255 printable ASCII characters without spaces.",
            fields={"Idempotency-Key": ["1 to 255 printable ASCII characters."]},
        )
    return value


def _replay(*, key: ApiKey, idempotency_key: str, request_hash: str, now) -> Job | None:
    """Return the job an earlier request with this Idempotency-Key made, if still in its window."""
    existing = Job.objects.filter(api_key=key, idempotency_key=idempotency_key).first()
    if existing is None:
        return None
    window = timedelta(seconds=settings.JOBS_IDEMPOTENCY_WINDOW_SECONDS)
    if existing.created_at <= now - window:
        # Past the window the key may be reused: the old job forgets it.
        Job.objects.filter(pk=existing.pk).update(idempotency_key=None)
        return None
    if existing.request_hash != request_hash:
        raise IdempotencyKeyReused()
    return existing


def job_submit(
    *, key: ApiKey, prompt: str, options: dict | None = None, idempotency_key: str | None = None
) -> Submission:
    """Create a job for ``key``, reserve its credits and enqueue it.

    With an ``idempotency_key``, the same key and body within 24 h return the original job
    (even when the balance has since run out); the same key with another body is refused with
    422 ``idempotency_key_reused``. Test keys draw no credits. A refusal leaves no job and no
    ledger row behind.
    """
    options = options or {}
    idempotency_key = clean_idempotency_key(idempotency_key)
    request_hash = _request_hash(prompt, options)
    now = timezone.now()
    if idempotency_key is not None:
        replay = _replay(
            key=key, idempotency_key=idempotency_key, request_hash=request_hash, now=now
        )
        if replay is not None:
            return Submission(replay, replayed=True)
    is_test = key.type == ApiKey.Type.TEST
    cost = 0 if is_test else get_engine().price(GenerationRequest(prompt, options, is_test))
    try:
        with transaction.atomic():
            job = Job.objects.create(
                job_id=_new_job_id(),
                organization_id=key.organization_id,
                api_key=key,
                test=is_test,
                prompt=prompt,
                options=options,
                credits_reserved=cost,
                idempotency_key=idempotency_key,
                request_hash=request_hash,
                created_at=now,
                enqueued_at=now,
            )
            if cost:
                credits_reserve(organization=key.organization, job=job, amount=cost)
            enqueue(job)
    except IntegrityError:
        # A concurrent request with the same Idempotency-Key won the race.
        if idempotency_key is None:
            raise
        replay = _replay(
            key=key, idempotency_key=idempotency_key, request_hash=request_hash, now=now
        )
        if replay is None:
            raise
        return Submission(replay, replayed=True)
    return Submission(job, replayed=False)


def _uses_orm_broker() -> bool:
    return "orm" in settings.Q_CLUSTER


def enqueue(job: Job) -> None:
    """Hand the job to the worker queue.

    The ORM broker writes its queue row in the caller's transaction, so the job and its
    message commit together. Other brokers have no such receipt: enqueue on commit and let
    the reconciler pick up a message lost in between.
    """
    from django_q.tasks import async_task

    def _send():
        async_task("jobs.tasks.run_job", job.job_id, task_name=f"job {job.job_id}", group="jobs")

    if _uses_orm_broker():
        _send()
    else:
        transaction.on_commit(_send)


def job_get_for_key(*, key: ApiKey, job_id: str) -> Job:
    """Return the job if ``key`` created it; otherwise ``JobNotFound`` (never another's job)."""
    # Only ids that could exist reach the database: PostgreSQL refuses NUL in a text
    # parameter with an error, which would be a 500.
    if not isinstance(job_id, str) or not _JOB_ID_RE.match(job_id):
        raise JobNotFound()
    # get() rather than first(): no ORDER BY to compile or run for a unique column.
    try:
        return Job.objects.get(job_id=job_id, api_key_id=key.pk)
    except Job.DoesNotExist:
        raise JobNotFound() from None


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
    """Store the result and capture the credits, if this attempt still holds the job."""
    now = timezone.now()
    charged = job.credits_reserved
    done = Job.objects.filter(pk=job.pk, status=Job.Status.RUNNING, attempts=job.attempts).update(
        status=Job.Status.SUCCEEDED,
        result=result,
        finished_at=now,
        lease_expires_at=None,
        credits_charged=charged,
    )
    if done:
        credits_capture(job=job)
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
    request = GenerationRequest(job.prompt, job.options, job.test)
    try:
        result = get_engine().generate(request)
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


@transaction.atomic
def job_cancel(*, job: Job, actor: Actor) -> Job:
    """Cancel a queued job and release its credits; refused once it has started."""
    done = Job.objects.filter(pk=job.pk, status=Job.Status.QUEUED).update(
        status=Job.Status.CANCELED,
        finished_at=timezone.now(),
        error_code="canceled",
        error_message=f"Canceled by {actor.label}."[:500],
    )
    if not done:
        raise JobStateConflict("Only queued jobs can be canceled.")
    credits_release(job=job)
    job.refresh_from_db()
    audit_record(actor=actor, action="job.canceled", organization=job.organization, target=job)
    return job


@transaction.atomic
def job_retry(*, job: Job, actor: Actor) -> Job:
    """Queue a failed job again, same job id, for a fresh series of attempts.

    The failed run's reservation was released, and the ledger allows one reservation per job,
    so a retried job runs at no charge: support retries are goodwill for failures on our side.
    """
    done = Job.objects.filter(pk=job.pk, status=Job.Status.FAILED).update(
        status=Job.Status.QUEUED,
        attempts=0,
        error_code="",
        error_message="",
        result=None,
        started_at=None,
        finished_at=None,
        credits_reserved=0,
        credits_charged=0,
        enqueued_at=timezone.now(),
    )
    if not done:
        raise JobStateConflict("Only failed jobs can be retried.")
    job.refresh_from_db()
    enqueue(job)
    audit_record(actor=actor, action="job.retried", organization=job.organization, target=job)
    return job


def jobs_purge_finished(
    *, now=None, older_than_days: int | None = None, batch_size: int | None = None
) -> int:
    """Delete jobs that finished more than ``JOBS_RETENTION_DAYS`` ago (0: keep them all).

    Deleted in batches, one short transaction each. Their ledger entries stay: the link is set
    to NULL and the job's public id remains in ``LedgerEntry.job_ref``, so the balance still
    equals the ledger's sum. Queued and running jobs are never purged.
    """
    from apikeys.retention import delete_in_batches

    days = settings.JOBS_RETENTION_DAYS if older_than_days is None else older_than_days
    if days <= 0:
        return 0
    cutoff = (now or timezone.now()) - timedelta(days=days)
    finished = Job.objects.filter(status__in=Job.FINISHED, finished_at__lt=cutoff)
    return delete_in_batches(finished, batch_size=batch_size)
