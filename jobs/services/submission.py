"""Submitting a job and reading it back: idempotency, credits, the queue."""

import hashlib
import json
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from apikeys.keys.models import ApiKey
from jobs.errors import IdempotencyKeyReused, JobNotFound, TooManyJobsInFlight
from jobs.models import Job
from jobs.services.admission import admission_insert, admission_refusal
from jobs.services.pricing import job_price
from jobs.services.queue import enqueue, queue_row
from perceptis.errors import DomainError, InvalidRequest

logger = logging.getLogger(__name__)


# 1 to 255 printable ASCII characters without spaces; the pattern is also the OpenAPI schema's.
IDEMPOTENCY_KEY_MAX_LENGTH = 255
IDEMPOTENCY_KEY_PATTERN = rf"^[\x21-\x7e]{{1,{IDEMPOTENCY_KEY_MAX_LENGTH}}}$"
_IDEMPOTENCY_KEY_RE = re.compile(IDEMPOTENCY_KEY_PATTERN)


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
    # fullmatch: ``$`` alone would let a trailing newline through.
    if not _IDEMPOTENCY_KEY_RE.fullmatch(value):
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
    """Create a job for ``key``, reserve the most it can cost and enqueue it.

    Refusals, in the pipeline's order, each writing nothing: ``invalid_request`` (options),
    ``model_not_available``, ``too_many_jobs_in_flight``, ``spend_limit_reached`` /
    ``project_spend_limit_reached`` / ``org_spend_limit_reached`` and ``insufficient_credits``
    (see ``job_price`` and ``jobs.services.admission``).

    With an ``idempotency_key``, the same key and body within 24 h return the original job
    (even when the balance has since run out); the same key with another body is refused with
    422 ``idempotency_key_reused``. Test keys draw no credits. A refusal leaves no job and no
    ledger row behind.

    The job's row is inserted without looking for an earlier one first: the unique
    (key, Idempotency-Key) constraint finds a replay, so a first submission reads nothing.
    """
    options = options or {}
    idempotency_key = clean_idempotency_key(idempotency_key)
    request_hash = _request_hash(prompt, options)
    now = timezone.now()
    try:
        priced = job_price(key=key, prompt=prompt, options=options)
    except DomainError:
        # A replay answers the original job even if its model is no longer available.
        replay = _replay_if_any(key, idempotency_key, request_hash, now)
        if replay is not None:
            return replay
        raise
    # Twice at most: the refused attempt's refusal may be gone when it is looked for (a job
    # finished in between), and an expired Idempotency-Key is freed by the first attempt.
    for attempt in range(3):
        job = _new_job(key, prompt, options, priced, idempotency_key, request_hash, now)
        try:
            admitted = _admit(job, key, priced.reserve)
        except IntegrityError:
            # An earlier request with this Idempotency-Key made a job (or is making it).
            replay = _replay_if_any(key, idempotency_key, request_hash, now)
            if replay is not None:
                return replay
            if idempotency_key is None or attempt:
                raise
            continue  # The key was past its window and is free now.
        if admitted:
            return Submission(job, replayed=False)
        # A replay answers the original job even when the caps now refuse a new one.
        replay = _replay_if_any(key, idempotency_key, request_hash, now)
        if replay is not None:
            return replay
        refusal = admission_refusal(key=key, cost=priced.reserve, now=now)
        if refusal is not None:
            raise refusal
    raise TooManyJobsInFlight("The organization's jobs are changing state; retry the request.")


def _admit(job: Job, key: ApiKey, cost: int) -> bool:
    """Write the job, its reservation and its queue message, or nothing; say which.

    On PostgreSQL with the ORM broker that is one statement, committed on its own. Otherwise
    one transaction: the message first (so that the rows the admission locks are held for the
    least time), or, with the Redis broker, on commit.
    """
    if connection.vendor == "postgresql":
        queued = queue_row(job)
        admitted = admission_insert(job=job, key=key, cost=cost, queued=queued)
        if admitted and queued is None:
            enqueue(job)
        return admitted
    with transaction.atomic():
        enqueue(job)
        admitted = admission_insert(job=job, key=key, cost=cost)
        if not admitted:
            transaction.set_rollback(True)
    return admitted


def _replay_if_any(key, idempotency_key, request_hash, now) -> Submission | None:
    if idempotency_key is None:
        return None
    replay = _replay(key=key, idempotency_key=idempotency_key, request_hash=request_hash, now=now)
    return None if replay is None else Submission(replay, replayed=True)


def _new_job(key, prompt, options, priced, idempotency_key, request_hash, now) -> Job:
    return Job(
        job_id=_new_job_id(),
        organization_id=key.organization_id,
        api_key=key,
        project_id=key.project_id,
        test=key.type == ApiKey.Type.TEST,
        prompt=prompt,
        options=options,
        model=priced.model,
        max_tokens=priced.max_tokens,
        input_credits_per_1k_tokens=priced.input_rate,
        output_credits_per_1k_tokens=priced.output_rate,
        credits_reserved=priced.reserve,
        idempotency_key=idempotency_key,
        request_hash=request_hash,
        created_at=now,
        enqueued_at=now,
    )


def job_get_for_key(*, key: ApiKey, job_id: str) -> Job:
    """Return the job if ``key`` created it; otherwise ``JobNotFound`` (never another's job)."""
    # Only ids that could exist reach the database (see ``Job.is_valid_id``).
    if not Job.is_valid_id(job_id):
        raise JobNotFound()
    # get() rather than first(): no ORDER BY to compile or run for a unique column.
    try:
        return Job.objects.get(job_id=job_id, api_key_id=key.pk)
    except Job.DoesNotExist:
        raise JobNotFound() from None
