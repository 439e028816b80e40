"""Refusals of job submissions that belong to jobs: each with its stable code."""

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
