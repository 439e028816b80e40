"""Refusals that belong to jobs (submission, reading, canceling): each with its stable code."""

from rest_framework import status

from perceptis.errors import DomainError

# Jobs take seconds; a client told to wait this long finds a free slot without hammering.
IN_FLIGHT_RETRY_AFTER_SECONDS = 5


class TooManyJobsInFlight(DomainError):
    code = "too_many_jobs_in_flight"
    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_message = (
        "The organization has as many queued and running jobs as its plan allows; retry after "
        "the time in Retry-After."
    )
    retry_after = IN_FLIGHT_RETRY_AFTER_SECONDS


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


class JobNotCancelable(JobStateConflict):
    code = "job_not_cancelable"
    default_message = "The job has already finished (succeeded, failed or canceled)."
