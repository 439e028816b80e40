"""What support and the retention schedule do to jobs: retry, purge (cancel: ``cancel.py``)."""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.audit import Actor, audit_record
from jobs.errors import JobStateConflict
from jobs.models import Job
from jobs.services.admission import counters_job_back_in_flight
from jobs.services.queue import enqueue
from jobs.status import job_status_changed
from perceptis.db import delete_in_batches

logger = logging.getLogger(__name__)


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
        cancel_requested_at=None,
        result=None,
        started_at=None,
        finished_at=None,
        credits_reserved=0,
        credits_charged=0,
        input_tokens=None,
        output_tokens=None,
        enqueued_at=timezone.now(),
    )
    if not done:
        raise JobStateConflict("Only failed jobs can be retried.")
    counters_job_back_in_flight(job)
    job.refresh_from_db()
    enqueue(job)
    job_status_changed(job)
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
    days = settings.JOBS_RETENTION_DAYS if older_than_days is None else older_than_days
    if days <= 0:
        return 0
    cutoff = (now or timezone.now()) - timedelta(days=days)
    finished = Job.objects.filter(status__in=Job.FINISHED, finished_at__lt=cutoff)
    return delete_in_batches(finished, batch_size=batch_size)
