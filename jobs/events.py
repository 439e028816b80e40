"""What follows a job reaching a terminal status (succeeded, failed, canceled).

Every terminal transition calls ``job_finished`` inside the transaction that moved the job, so
whatever it records commits or rolls back with the status change.
"""

from apikeys.keys.models import ApiKey
from jobs.models import Job
from jobs.status import job_status_body
from webhooks.events import event_publish

EVENT_TYPES = {
    Job.Status.SUCCEEDED: "job.succeeded",
    Job.Status.FAILED: "job.failed",
    Job.Status.CANCELED: "job.canceled",
}


def job_finished(job: Job) -> None:
    """Record the completion event of a job that has just reached a terminal status.

    The event goes to the organization's webhook endpoints of the job's environment (a test
    key's job to test endpoints, a live key's to live ones) and project (or of every project)
    with the job's status body, exactly as ``GET /api/v1/status/{job_id}`` returns it. Only rows
    are written here; the deliveries run on the outbound cluster after commit, so no receiver
    can delay the job.
    """
    # The caller's instance may predate the UPDATE that finished the job: read what it wrote.
    job = Job.objects.select_related("organization").get(pk=job.pk)
    event_type = EVENT_TYPES.get(job.status)
    if event_type is None:
        return
    event_publish(
        organization=job.organization,
        environment=ApiKey.Type.TEST if job.test else ApiKey.Type.LIVE,
        type=event_type,
        data=job_status_body(job),
        project=job.project_id,
    )
