"""The data the hot-path benchmark reads: an organization, a live key, a job and a DRF token."""

from dataclasses import dataclass


@dataclass
class Fixture:
    job_id: str
    api_key: str
    token: str


def make_fixture() -> Fixture:
    """Create an organization with a live key, a finished job and a DRF token for a member."""
    from rest_framework.authtoken.models import Token

    from accounts.audit import Actor
    from accounts.models import Membership, Plan
    from accounts.services import user_create
    from apikeys.keys.services import apikey_create
    from billing.services import organization_open
    from jobs.models import Job
    from jobs.services import job_submit

    actor = Actor.system("bench")
    org = organization_open(name="Bench", plan_code="business", credits=1000, actor=actor)
    # No request may be refused by the per-minute limit, however many the run sends.
    Plan.objects.filter(pk=org.plan_id).update(rate_limit_per_minute=10**9)
    key, plaintext = apikey_create(organization=org, name="Bench", actor=actor)
    job = job_submit(key=key, prompt="A lighthouse at dusk", options={}).job
    Job.objects.filter(pk=job.pk).update(
        status=Job.Status.SUCCEEDED,
        result={"text": "A lighthouse stands on the rocks as the light fades."},
        credits_charged=1,
    )
    user = user_create(
        email="bench@example.com",
        password="bench-password-not-secret",
        organization=org,
        role=Membership.Role.ADMIN,
        actor=actor,
    )
    token = Token.objects.create(user=user)
    return Fixture(job_id=job.job_id, api_key=plaintext, token=token.key)
