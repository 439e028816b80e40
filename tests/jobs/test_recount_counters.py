"""The counters submissions are admitted on, recounted from the jobs and the ledger: after real
work they match; a drifted one is reported (exit 1) and, with --fix, set to its count and
audited; the balance is reported and never changed; a key's total outlives purged jobs."""

from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from accounts.models import AuditEvent, Project
from apikeys.keys.models import ApiKey
from billing.models import CreditAccount
from jobs.services import job_cancel, job_submit
from jobs.services.execution import job_claim, job_fail, job_succeed
from jobs.services.recount import counters_recount
from tests.helpers import SYSTEM

# gpt-4o, max_tokens 1000: 5 credits reserved each.
FIVE = {"model": "gpt-4o", "max_tokens": 1000}


def recount(*args):
    """Run the command; return its output and whether it exited 0."""
    from io import StringIO

    out = StringIO()
    try:
        call_command("recount_counters", *args, stdout=out)
    except CommandError as exc:
        return out.getvalue() + str(exc), False
    return out.getvalue(), True


@pytest.fixture
def busy_org(org, make_key):
    """An organization whose jobs went every way: queued, running, succeeded, failed, canceled."""
    first, _ = make_key(org)
    second, _ = make_key(org)
    jobs = [job_submit(key=key, prompt="p", options=FIVE).job for key in (first, second) * 3]
    job_claim(job_id=jobs[1].job_id)
    job_succeed(job=job_claim(job_id=jobs[2].job_id), result={"text": "ok", "usage": {}})
    job_fail(job=job_claim(job_id=jobs[3].job_id), code="engine_error", message="gave up")
    job_cancel(job=jobs[4], actor=SYSTEM)
    return org


def test_after_real_work_every_counter_matches_its_count(busy_org):
    assert counters_recount(organization=busy_org) == []
    output, ok = recount()
    assert ok, output
    assert "every counter matches" in output


def test_drifted_counters_are_reported_then_fixed_and_audited(busy_org):
    account = CreditAccount.objects.get(organization=busy_org)
    key = ApiKey.objects.filter(organization=busy_org).order_by("pk").first()
    project = Project.objects.get(organization=busy_org)
    today = timezone.now().date()
    CreditAccount.objects.filter(pk=account.pk).update(
        jobs_in_flight=account.jobs_in_flight + 3, spend_month=account.spend_month - 2
    )
    Project.objects.filter(pk=project.pk).update(spend_month=project.spend_month + 11)
    ApiKey.objects.filter(pk=key.pk).update(
        spend_day=key.spend_day + 1, spend_month=0, spend_total=0, spend_day_start=today
    )

    output, ok = recount("--org", busy_org.slug)

    assert not ok
    for text in (
        f"credit account: jobs_in_flight is {account.jobs_in_flight + 3}, counted "
        f"{account.jobs_in_flight}",
        f"credit account: spend_month is {account.spend_month - 2}, counted {account.spend_month}",
        f"project {project.project_id}: spend_month is {project.spend_month + 11}",
        f"key {key.key_id}: spend_day is {key.spend_day + 1}, counted {key.spend_day}",
        f"key {key.key_id}: spend_month is 0, counted {key.spend_month}",
        f"key {key.key_id}: spend_total is 0, counted {key.spend_total}",
        "6 difference(s) left",
    ):
        assert text in output
    assert CreditAccount.objects.get(pk=account.pk).jobs_in_flight == account.jobs_in_flight + 3

    output, ok = recount("--org", busy_org.slug, "--fix")

    assert ok, output
    assert "6 counter(s) fixed" in output
    assert counters_recount(organization=busy_org) == []
    event = AuditEvent.objects.get(action="counters.recounted")
    assert event.organization == busy_org
    assert len(event.metadata["differences"]) == 6
    assert recount()[1]


def test_a_balance_that_is_not_the_ledgers_sum_is_reported_and_never_changed(busy_org):
    CreditAccount.objects.filter(organization=busy_org).update(balance=123_456)

    output, ok = recount("--fix")

    assert not ok
    assert "balance (the ledger's sum) is 123456" in output
    assert "for a person to look into" in output
    assert CreditAccount.objects.get(organization=busy_org).balance == 123_456
    assert not AuditEvent.objects.filter(action="counters.recounted").exists()


def test_a_keys_total_outlives_its_purged_jobs(busy_org):
    """Retention deletes jobs that finished months ago; the key's total keeps what they spent."""
    key = ApiKey.objects.filter(organization=busy_org).order_by("pk").first()
    ApiKey.objects.filter(pk=key.pk).update(spend_total=key.spend_total + 40)

    assert counters_recount(organization=busy_org) == []


def test_counters_of_a_past_period_count_as_zero(org, make_key):
    key, _ = make_key(org)
    job_submit(key=key, prompt="p", options=FIVE)
    last_month = (timezone.now().replace(day=1) - timedelta(days=1)).date()
    ApiKey.objects.filter(pk=key.pk).update(spend_month_start=last_month, spend_month=999)

    [difference] = counters_recount(organization=org)

    assert (difference.counter, difference.kept, difference.counted) == ("spend_month", 0, 5)
    counters_recount(organization=org, fix=True)
    key.refresh_from_db()
    assert (key.spend_month, key.spend_month_start) == (5, timezone.now().date().replace(day=1))


def test_an_unknown_organization_is_a_one_line_error(db):
    output, ok = recount("--org", "no-such-org")
    assert not ok
    assert output == "No organization with slug 'no-such-org'."


def test_the_daily_audit_logs_each_difference_and_changes_nothing(busy_org, caplog):
    from django_q.models import Schedule

    from jobs.tasks import audit_counters

    assert audit_counters() == 0
    CreditAccount.objects.filter(organization=busy_org).update(jobs_in_flight=99)

    with caplog.at_level("ERROR", logger="jobs.services.recount"):
        assert audit_counters() == 1

    [record] = caplog.records
    assert f"{busy_org.slug}: credit account: jobs_in_flight is 99" in record.getMessage()
    assert CreditAccount.objects.get(organization=busy_org).jobs_in_flight == 99
    schedule = Schedule.objects.get(func="jobs.tasks.audit_counters")
    assert (schedule.schedule_type, schedule.minutes) == ("I", 24 * 60)
