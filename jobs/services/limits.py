"""What an organization may have in flight and spend, checked inside the submission.

Every check runs in the submission's transaction after the organization's credit account row
is locked, so concurrent submissions of one organization are decided one after another and
none of them can slip past a cap between the count and the insert (PostgreSQL; SQLite
serializes writers anyway). A refusal raises, so the transaction writes nothing.
"""

from apikeys.models import ApiKey
from billing.services import credits_account_lock
from jobs.errors import TooManyJobsInFlight
from jobs.models import Job

IN_FLIGHT = (Job.Status.QUEUED, Job.Status.RUNNING)


def submission_limits_check(*, key: ApiKey, reserve: int, now) -> None:
    """Refuse a submission past the organization's caps; call inside its transaction.

    In the pipeline's order: ``too_many_jobs_in_flight`` (429, the plan's cap on queued plus
    running jobs, test keys' jobs included).
    """
    credits_account_lock(organization=key.organization)
    cap = key.organization.plan.max_jobs_in_flight
    in_flight = Job.objects.filter(organization_id=key.organization_id, status__in=IN_FLIGHT)
    if in_flight.count() >= cap:
        raise TooManyJobsInFlight(
            f"The {key.organization.plan.name} plan allows {cap} queued and running jobs at "
            "once; retry when one has finished."
        )
