"""What follows a job reaching a terminal status (succeeded, failed, canceled).

Every terminal transition calls ``job_finished`` inside the transaction that moved the job, so
whatever it records commits or rolls back with the status change.
"""

from jobs.models import Job


def job_finished(job: Job) -> None:
    """Record the completion event of a job that has just reached a terminal status."""
