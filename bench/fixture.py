"""The data the hot-path benchmark reads: an organization, a live key, a job and a DRF token."""

from dataclasses import dataclass


@dataclass
class Fixture:
    job_id: str
    api_key: str
    token: str
    running_job_id: str = ""


def make_fixture() -> Fixture:
    from django.utils import timezone

    """Create an organization with a live key, a finished and a running job, and a DRF token
    for a member."""
    from rest_framework.authtoken.models import Token

    from accounts.audit import Actor
    from accounts.members.services import membership_create
    from accounts.models import Membership, Plan
    from accounts.services import user_create
    from apikeys.keys.services import apikey_create
    from billing.services import organization_open
    from jobs.models import Job
    from jobs.services import job_submit
    from jobs.status import job_status_store

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
        finished_at=timezone.now(),
    )
    running = job_submit(key=key, prompt="A harbour at dawn", options={}).job
    Job.objects.filter(pk=running.pk).update(
        status=Job.Status.RUNNING, attempts=1, started_at=timezone.now()
    )
    # Moved by UPDATE, not by the services' transitions: store their read models as those would.
    for moved in Job.objects.filter(pk__in=[job.pk, running.pk]):
        job_status_store(moved)
    user = user_create(email="bench@example.com", password="bench-password-not-secret", actor=actor)
    membership_create(user=user, organization=org, role=Membership.Role.ADMIN, actor=actor)
    token = Token.objects.create(user=user)
    return Fixture(
        job_id=job.job_id, api_key=plaintext, token=token.key, running_job_id=running.job_id
    )


@dataclass
class HttpFixture:
    job_id: str
    api_key: str
    more_keys: list  # further keys of the same organization


def make_http_fixture(keys: int = 1) -> HttpFixture:
    """Create an organization on a plan no benchmark reaches the limits of, a key and a job.

    The plan is the benchmark's own ("bench", in the benchmark's throwaway database): no
    per-minute limit, no cap on jobs in flight that a run could reach, and credits for every
    job a run submits.
    """
    from accounts.audit import Actor
    from accounts.models import Plan
    from accounts.services import organization_set_plan
    from apikeys.keys.services import apikey_create
    from billing.models import ModelAccess
    from billing.services import organization_open
    from jobs.models import Job
    from jobs.services import job_submit

    actor = Actor.system("bench")
    business = Plan.objects.get(code="business")
    plan, _ = Plan.objects.update_or_create(
        code="bench",
        defaults={
            "name": "Bench",
            "api_access": True,
            "live_key_limit": None,
            "test_key_limit": None,
            "rate_limit_per_minute": 10**9,
            "monthly_credits": 0,
            "max_jobs_in_flight": 10**9,
            "test_daily_quota": business.test_daily_quota,
            "key_creations_per_day": None,  # the run creates its keys at once
        },
    )
    for access in ModelAccess.objects.filter(plan=business):  # the Business plan's models
        ModelAccess.objects.get_or_create(
            plan=plan, price_id=access.price_id, defaults={"is_default": access.is_default}
        )
    org = organization_open(name="Bench HTTP", plan_code="business", credits=10**12, actor=actor)
    organization_set_plan(organization=org, plan_code="bench", actor=actor)
    key, plaintext = apikey_create(organization=org, name="Bench HTTP", actor=actor)
    more = [
        apikey_create(organization=org, name=f"Bench HTTP {n}", actor=actor)[1]
        for n in range(2, keys + 1)
    ]
    job = job_submit(key=key, prompt="A lighthouse at dusk", options={}).job
    Job.objects.filter(pk=job.pk).update(
        status=Job.Status.SUCCEEDED,
        result={"text": "A lighthouse stands on the rocks as the light fades."},
        credits_charged=1,
    )
    return HttpFixture(job_id=job.job_id, api_key=plaintext, more_keys=more)


def queued_jobs_finish() -> int:
    """Mark the jobs a run queued as failed, so the next run counts as few jobs in flight."""
    from jobs.models import Job

    return Job.objects.filter(status=Job.Status.QUEUED).update(status=Job.Status.FAILED)
