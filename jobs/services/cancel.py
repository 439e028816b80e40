"""Canceling a job: one service for the API, the Jobs page and admin, and the worker's stop.

A queued job is canceled at once and its whole reservation released. A running job cannot be
interrupted mid-call, so canceling it records ``cancel_requested_at``; its worker looks at the
row before it calls the engine, after the engine returns and when it stores the result, and
the reconciler finishes a cancel-requested job whose lease expired. A job stopped that way is
``canceled`` and pays only what the engine reported (nothing if the engine never returned).

Every move is a conditional UPDATE on the row's status, so a cancel racing the worker's
success ends in exactly one terminal state, with exactly one capture or release.
"""

from django.db import transaction
from django.utils import timezone

from accounts.audit import Actor, audit_record
from billing.services import credits_capture, credits_release
from jobs.errors import JobNotCancelable
from jobs.events import job_finished
from jobs.models import Job
from jobs.services.admission import counters_job_left_flight
from jobs.services.pricing import job_charge
from jobs.status import job_status_changed

CANCELED_CODE = "canceled"


@transaction.atomic
def job_cancel(*, job: Job, actor: Actor) -> Job:
    """Cancel ``job`` on behalf of ``actor`` and return it as it now is.

    Queued: canceled at once, its credits released, audited ``job.canceled``. Running: the
    cancel is requested (``cancel_requested``), audited ``job.cancel_requested``, and the worker
    stops it; asking again changes nothing and writes nothing. Finished (succeeded, failed,
    canceled): ``JobNotCancelable`` (409), nothing written.
    """
    now = timezone.now()
    message = _cancel_message(actor)
    # A worker may claim the job or requeue it between two of these UPDATEs; each sees the
    # row's current state, so a few rounds settle it.
    for _ in range(3):
        canceled = Job.objects.filter(pk=job.pk, status=Job.Status.QUEUED).update(
            status=Job.Status.CANCELED,
            cancel_requested_at=now,
            finished_at=now,
            lease_expires_at=None,
            error_code=CANCELED_CODE,
            error_message=message,
        )
        if canceled:
            credits_release(job=job)
            counters_job_left_flight(job)
            job.refresh_from_db()
            job_finished(job)
            job_status_changed(job)
            audit_record(
                actor=actor,
                action="job.canceled",
                organization=job.organization,
                target=job,
                metadata={"from": Job.Status.QUEUED},
            )
            return job
        requested = Job.objects.filter(
            pk=job.pk, status=Job.Status.RUNNING, cancel_requested_at__isnull=True
        ).update(cancel_requested_at=now, error_message=message)
        job.refresh_from_db()
        if requested:
            job_status_changed(job)
            audit_record(
                actor=actor,
                action="job.cancel_requested",
                organization=job.organization,
                target=job,
                metadata={"from": Job.Status.RUNNING},
            )
            return job
        if job.status == Job.Status.RUNNING:
            return job  # Already requested: the worker is stopping it.
        if job.is_finished:
            raise JobNotCancelable(f"The job has already {_finished_verb(job.status)}.")
    raise JobNotCancelable("The job is changing state; try again.")


def _cancel_message(actor: Actor) -> str:
    # The job's error message reaches the API client: it names the key, never a person's
    # address (the audit row records who it was).
    if actor.key is not None:
        return f"Canceled through the API by key {actor.key.key_id}."
    if actor.user is not None and actor.user.is_staff:
        return "Canceled by Perceptis support."
    if actor.user is not None:
        return "Canceled in Developer Settings."
    return "Canceled."


def _finished_verb(status: str) -> str:
    return {Job.Status.SUCCEEDED: "succeeded", Job.Status.FAILED: "failed"}.get(
        status, "been canceled"
    )


@transaction.atomic
def job_cancel_finish(*, job: Job, result: dict | None = None, now=None) -> bool:
    """Finish a running job whose cancel was requested, if this attempt still holds it.

    ``result`` is what the engine returned, or None when it never returned: with a result the
    job is charged what the engine reported (its usage at the submission's rates, never more
    than reserved) and the rest released in one capture; without one everything is released.
    The result itself is not stored. Return whether the job was finished here; with no cancel
    requested it matches no row and does nothing.
    """
    now = now or timezone.now()
    charge = job_charge(job, result) if result is not None else None
    fields = {
        "status": Job.Status.CANCELED,
        "finished_at": now,
        "lease_expires_at": None,
        "error_code": CANCELED_CODE,
    }
    if charge is not None:
        fields.update(
            input_tokens=charge.input_tokens,
            output_tokens=charge.output_tokens,
            credits_charged=charge.charged,
        )
    done = Job.objects.filter(
        pk=job.pk,
        status=Job.Status.RUNNING,
        attempts=job.attempts,
        cancel_requested_at__isnull=False,
    ).update(**fields)
    if not done:
        return False
    if charge is not None:
        credits_capture(job=job, charged=charge.charged)
    else:
        credits_release(job=job)
    counters_job_left_flight(job)
    job.refresh_from_db()
    job_finished(job)
    job_status_changed(job)
    return True
