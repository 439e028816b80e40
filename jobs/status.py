"""A job's status body, built in one place, and its read model.

``job_status_body`` is what ``GET /api/v1/status/{job_id}`` answers, what the list and cancel
endpoints return per job, and the ``data`` of the job's webhook events; ``JobSerializer``
declares its schema and renders through it.

The read model. With Redis, a job's status body is stored per key (``apikeys.keys.readmodels``)
on every transition (running, cancel requested, succeeded, failed, canceled, queued again), on
commit, read back from the row that committed, and by a poll that found none (it reads the
database and stores what it read). The authentication's Redis call returns it, so every poll
after the first is one round trip. A submission does not store it: its body is the generate's
response, and the worker's claim, milliseconds later when the queue is short, replaces it;
writing it would cost every generate a Redis round trip (an eighth of its time) for a body
that, when the queue is short, no poll reads.

Each write carries the job's version, the time of its latest transition as the row records
it, and replaces only an older one: a late write never undoes a newer state. A body that can
still change lives ``JOBS_READ_MODEL_LIVE_SECONDS``, so a write lost to a Redis outage is
corrected by a poll (a miss reads the database and stores what it read) within that time.
Without Redis the read model is each process's own, so only finished bodies, which never
change, are kept.
"""

import logging

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apikeys.keys import readmodels
from apikeys.keys.fallback import shared_call
from jobs.models import Job

logger = logging.getLogger(__name__)

# A job in these states never changes again (support retries only failed jobs).
FINAL = (Job.Status.SUCCEEDED, Job.Status.CANCELED)


def _iso_datetime(value) -> str | None:
    # As DRF's DateTimeField renders it: in the current time zone, UTC written as "Z".
    if value is None:
        return None
    text = value.astimezone(timezone.get_current_timezone()).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def job_status_body(job: Job) -> dict:
    """Return the status body of ``job`` (the schema is ``JobSerializer``'s).

    Status is the most frequent request; building the body directly costs a fraction of
    instantiating a serializer and its fields on every poll.
    """
    return {
        "job_id": job.job_id,
        "project": job.project_id,
        "status": job.status,
        "created_at": _iso_datetime(job.created_at),
        "started_at": _iso_datetime(job.started_at),
        "finished_at": _iso_datetime(job.finished_at),
        "result": job.result,
        "error": job.error,
        "model": job.model,
        "usage": job.usage,
        "credits_reserved": job.credits_reserved,
        "credits_charged": job.credits_charged,
        "test": job.test,
        "cancel_requested": job.cancel_requested_at is not None,
    }


def job_version(job: Job) -> int:
    """Return the job's version: the time (µs) of its latest transition as the row records it.

    Every transition sets one of these to its own time (``enqueued_at`` on submission and on
    every requeue or retry, ``started_at`` on a claim, ``cancel_requested_at``, ``finished_at``),
    and transitions of one job follow each other, so the version only grows.
    """
    moments = (
        job.created_at,
        job.enqueued_at,
        job.started_at,
        job.cancel_requested_at,
        job.finished_at,
    )
    return max(int(moment.timestamp() * 1_000_000) for moment in moments if moment is not None)


def read_model_name(job_id) -> str:
    """The read model a poll of ``job_id`` may be answered from, or '' (none, or a bad id)."""
    if not settings.JOBS_READ_MODEL_SECONDS or not Job.is_valid_id(job_id):
        return ""
    return f"job:{job_id}"


def job_status_store(job: Job) -> None:
    """Store ``job``'s status body as the read model of its key, if worth keeping.

    With Redis every state is kept; without it only final states (see the module). A Redis
    outage loses the write (the poll reads the database); any other error is logged.
    """
    name = read_model_name(job.job_id)
    if not name or not (job.status in FINAL or readmodels.shared()):
        return
    final = job.status in FINAL
    seconds = settings.JOBS_READ_MODEL_SECONDS if final else settings.JOBS_READ_MODEL_LIVE_SECONDS
    shared_call(
        readmodels.read_model_put,
        job.organization_id,
        job.api_key_id,
        name,
        job_status_body(job),
        version=job_version(job),
        seconds=seconds,
        on=readmodels.stored_name(job.organization_id, job.api_key_id, name),
    )


def job_status_changed(job: Job) -> None:
    """Store the job's status body once the current transaction commits.

    Call it after every transition: the body is read back from the committed row, so that it
    is the state that committed, whatever instance the caller holds.
    """
    if not settings.JOBS_READ_MODEL_SECONDS or not readmodels.shared():
        return
    pk = job.pk

    def store():
        committed = Job.objects.filter(pk=pk).first()
        if committed is None:
            return
        try:
            job_status_store(committed)
        except Exception:  # a bug in the write must not fail the transition that committed
            logger.exception("Job %s: read model not stored", committed.job_id)

    transaction.on_commit(store)
