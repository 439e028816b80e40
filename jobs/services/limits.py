"""What an organization may have in flight and spend, checked inside the submission.

Every check runs in the submission's transaction after the organization's credit account row
is locked, so concurrent submissions of one organization are decided one after another and
none of them can slip past a cap between the count and the insert (PostgreSQL; SQLite
serializes writers anyway). A refusal raises, so the transaction writes nothing.
"""

from apikeys.keys.models import ApiKey
from billing.errors import OrgSpendLimitReached, SpendLimitReached
from billing.services import credits_account_lock
from jobs.errors import TooManyJobsInFlight
from jobs.models import Job
from jobs.selectors import spend_for_key, spend_for_organization, spend_period_start

IN_FLIGHT = (Job.Status.QUEUED, Job.Status.RUNNING)


def submission_limits_check(*, key: ApiKey, reserve: int, now) -> None:
    """Refuse a submission past the organization's caps; call inside its transaction.

    In the pipeline's order: ``too_many_jobs_in_flight`` (429, the plan's cap on queued plus
    running jobs, test keys' jobs included), then ``spend_limit_reached`` (402, the key's
    reserved plus charged credits in its period would pass its limit) and
    ``org_spend_limit_reached`` (402, the same for the organization's calendar month). The
    limits are read again under the lock, so a limit lowered a moment ago already holds.
    """
    account = credits_account_lock(organization=key.organization)
    cap = key.organization.plan.max_jobs_in_flight
    in_flight = Job.objects.filter(organization_id=key.organization_id, status__in=IN_FLIGHT)
    if in_flight.count() >= cap:
        raise TooManyJobsInFlight(
            f"The {key.organization.plan.name} plan allows {cap} queued and running jobs at "
            "once; retry when one has finished."
        )
    if reserve <= 0:
        return  # A free job (a test key's) spends nothing, so no spend limit refuses it.
    limit, period = (
        ApiKey.objects.filter(pk=key.pk)
        .values_list("spend_limit_credits", "spend_limit_period")
        .get()
    )
    if limit is not None:
        spent = spend_for_key(key=key, since=spend_period_start(period, now))
        if spent + reserve > limit:
            raise SpendLimitReached(
                f"This job reserves {reserve} credits; the key has spent {spent} of its "
                f"{limit}-credit limit for the {period}."
            )
    org_limit = account.monthly_spend_limit
    if org_limit is not None:
        month_start = spend_period_start(ApiKey.SpendPeriod.MONTH, now)
        spent = spend_for_organization(organization=key.organization, since=month_start)
        if spent + reserve > org_limit:
            raise OrgSpendLimitReached(
                f"This job reserves {reserve} credits; the organization has spent {spent} of "
                f"its {org_limit}-credit limit for this month."
            )
