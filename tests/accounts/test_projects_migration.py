"""A database with organizations, keys, jobs and ledger rows made before projects upgrades:
each organization gets one Default project holding every key, each job and each job's ledger
rows name it, and the project's month counter starts from its jobs."""

import pytest
from django.utils import timezone

from accounts.models import Project
from apikeys.keys.models import ApiKey
from billing.models import LedgerEntry
from jobs.models import Job
from tests.helpers import migrate

BEFORE_PROJECTS = [
    ("accounts", "0009_organization_key_policy"),
    ("apikeys", "0015_key_expiry_warning_schedule"),
    ("billing", "0005_account_submission_counters"),
    ("jobs", "0007_fill_submission_counters"),
]


def _organization_with_history(old, name: str, n: int):
    """An organization as it was before projects: two keys, a finished and a queued job, the
    ledger rows of both and a grant."""
    Organization = old.get_model("accounts", "Organization")
    Plan = old.get_model("accounts", "Plan")
    CreditAccount = old.get_model("billing", "CreditAccount")
    OldKey = old.get_model("apikeys", "ApiKey")
    OldJob = old.get_model("jobs", "Job")
    OldEntry = old.get_model("billing", "LedgerEntry")
    org = Organization.objects.create(
        name=name, slug=name.lower(), plan=Plan.objects.get(code="business")
    )
    account = CreditAccount.objects.create(organization=org, balance=100)
    OldEntry.objects.create(
        account=account, kind="grant", amount=100, balance_after=100, reason="Opening balance"
    )
    keys = [
        OldKey.objects.create(
            organization=org, key_id=f"key_old{n}{i}", name=f"k{i}", hint="h", permissions=[]
        )
        for i in range(2)
    ]
    now = timezone.now()
    jobs = []
    for i, (status, reserved, charged) in enumerate([("succeeded", 10, 4), ("queued", 7, 0)]):
        job = OldJob.objects.create(
            job_id=f"job_old{n}{i}",
            organization=org,
            api_key=keys[i],
            status=status,
            prompt="p",
            credits_reserved=reserved,
            credits_charged=charged,
            created_at=now,
        )
        OldEntry.objects.create(
            account=account,
            kind="reserve",
            amount=-reserved,
            balance_after=0,
            job=job,
            job_ref=job.job_id,
        )
        if status == "succeeded":
            OldEntry.objects.create(
                account=account,
                kind="capture",
                amount=reserved - charged,
                balance_after=0,
                job=job,
                job_ref=job.job_id,
            )
        jobs.append(job)
    return org, keys, jobs


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_keys_jobs_and_ledger_rows_made_before_projects_land_in_a_default_project():
    old = migrate(BEFORE_PROJECTS)
    acme, acme_keys, acme_jobs = _organization_with_history(old, "Acme", 1)
    globex, globex_keys, _ = _organization_with_history(old, "Globex", 2)

    migrate()

    for org, keys in ((acme, acme_keys), (globex, globex_keys)):
        [default] = Project.objects.filter(organization_id=org.pk)
        assert (default.name, default.is_default, default.archived_at) == ("Default", True, None)
        assert default.project_id.startswith("proj_")
        assert set(
            ApiKey.objects.filter(organization_id=org.pk).values_list("project_id", flat=True)
        ) == {default.project_id}
        assert set(
            Job.objects.filter(organization_id=org.pk).values_list("project_id", flat=True)
        ) == {default.project_id}
        entries = LedgerEntry.objects.filter(account__organization_id=org.pk)
        assert set(entries.exclude(kind="grant").values_list("project_id", flat=True)) == {
            default.project_id
        }
        assert set(entries.filter(kind="grant").values_list("project_id", flat=True)) == {None}
        # This month: the queued job holds 7, the succeeded one was charged 4.
        assert default.spend_month == 11
    assert Project.objects.values("project_id").distinct().count() == 2


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_keys_made_after_the_upgrade_go_to_the_default_project_and_submit(make_key, client_for):
    old = migrate(BEFORE_PROJECTS)
    org, _, _ = _organization_with_history(old, "Initech", 3)
    migrate()

    from accounts.models import Organization

    key, plaintext = make_key(Organization.objects.get(pk=org.pk))
    default = Project.objects.get(organization_id=org.pk)
    assert key.project_id == default.project_id
    response = client_for(plaintext).post("/api/v1/generate", {"prompt": "hi"}, format="json")
    assert response.status_code == 202
    assert Job.objects.get(job_id=response.json()["job_id"]).project_id == default.project_id
