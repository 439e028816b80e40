"""Old usage, request logs and finished jobs are purged in batches; the ledger stays whole."""

from datetime import timedelta

import pytest
from django.db import connection
from django.db.models import Sum
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_q.models import Schedule

from apikeys.usage.models import RequestLog, UsageHourly
from apikeys.usage.retention import request_log_purge, usage_purge
from billing.models import CreditAccount, LedgerEntry
from jobs.models import Job
from jobs.services import job_run, job_submit, jobs_purge_finished
from jobs.tasks import purge_old_data


@pytest.fixture
def now():
    return timezone.now().replace(minute=0, second=0, microsecond=0)


@pytest.fixture
def key(live_key):
    return live_key[0]


def _deletes(queries, table: str) -> int:
    return sum(1 for q in queries if q["sql"].startswith("DELETE") and table in q["sql"])


def test_usage_older_than_400_days_is_purged_in_batches(key, now):
    old = [
        UsageHourly.objects.create(
            organization=key.organization, api_key=key, hour=now - timedelta(days=401, hours=h)
        )
        for h in range(5)
    ]
    kept = [
        UsageHourly.objects.create(
            organization=key.organization, api_key=key, hour=now - timedelta(days=399)
        ),
        UsageHourly.objects.create(organization=key.organization, api_key=key, hour=now),
    ]

    with CaptureQueriesContext(connection) as ctx:
        deleted = usage_purge(now=now, batch_size=2)

    assert deleted == 5
    assert _deletes(ctx.captured_queries, UsageHourly._meta.db_table) == 3  # 2 + 2 + 1
    remaining = set(UsageHourly.objects.values_list("pk", flat=True))
    assert remaining == {row.pk for row in kept}
    assert not remaining & {row.pk for row in old}


def _log(key, created_at):
    return RequestLog.objects.create(
        created_at=created_at,
        organization=key.organization,
        api_key=key,
        method="POST",
        path="/api/v1/generate",
        status=202,
        latency_ms=12,
        request_id="req_x",
    )


def test_request_log_older_than_30_days_is_purged_in_batches(key, now):
    old = [_log(key, now - timedelta(days=30, minutes=m + 1)) for m in range(7)]
    kept = [_log(key, now - timedelta(days=29)), _log(key, now)]

    with CaptureQueriesContext(connection) as ctx:
        deleted = request_log_purge(now=now, batch_size=3)

    assert deleted == len(old)
    assert _deletes(ctx.captured_queries, RequestLog._meta.db_table) == 3  # 3 + 3 + 1
    assert set(RequestLog.objects.values_list("pk", flat=True)) == {r.pk for r in kept}


def test_retention_follows_the_settings(key, now, settings):
    settings.APIKEYS_REQUEST_LOG_RETENTION_DAYS = 7
    settings.APIKEYS_USAGE_RETENTION_DAYS = 0  # keep forever
    _log(key, now - timedelta(days=8))
    _log(key, now - timedelta(days=6))
    UsageHourly.objects.create(
        organization=key.organization, api_key=key, hour=now - timedelta(days=1000)
    )

    counts = purge_old_data(now=now)

    assert counts["request_log"] == 1
    assert counts["usage_hourly"] == 0
    assert RequestLog.objects.count() == 1
    assert UsageHourly.objects.count() == 1


def _finished_job(key, *, prompt, days_ago, now, fail=False):
    options = {"simulate_error": "fatal"} if fail else {}
    job = job_submit(key=key, prompt=prompt, options=options).job
    job_run(job_id=job.job_id)
    Job.objects.filter(pk=job.pk).update(finished_at=now - timedelta(days=days_ago))
    return Job.objects.get(pk=job.pk)


def _ledger_is_balanced(organization) -> bool:
    account = CreditAccount.objects.get(organization=organization)
    total = account.entries.aggregate(total=Sum("amount"))["total"] or 0
    return account.balance == total


def test_finished_jobs_are_purged_and_the_ledger_stays_balanced(key, now, settings):
    settings.JOBS_RETENTION_DAYS = 90
    old_ok = _finished_job(key, prompt="old success", days_ago=91, now=now)
    old_failed = _finished_job(key, prompt="old failure", days_ago=120, now=now, fail=True)
    recent = _finished_job(key, prompt="recent", days_ago=10, now=now)
    waiting = job_submit(key=key, prompt="still queued").job
    Job.objects.filter(pk=waiting.pk).update(created_at=now - timedelta(days=200))
    organization = key.organization
    entries_before = set(LedgerEntry.objects.values_list("pk", "kind", "amount", "job_ref"))
    balance_before = CreditAccount.objects.get(organization=organization).balance
    assert _ledger_is_balanced(organization)

    deleted = jobs_purge_finished(now=now, batch_size=1)

    assert deleted == 2
    assert set(Job.objects.values_list("pk", flat=True)) == {recent.pk, waiting.pk}
    # Every ledger row is still there, unchanged, naming its purged job by public id.
    assert set(LedgerEntry.objects.values_list("pk", "kind", "amount", "job_ref")) == (
        entries_before
    )
    orphaned = LedgerEntry.objects.filter(job_ref__in=[old_ok.job_id, old_failed.job_id])
    assert orphaned.count() == 4  # reserve + capture, reserve + release
    assert all(entry.job_id is None for entry in orphaned)
    assert CreditAccount.objects.get(organization=organization).balance == balance_before
    assert _ledger_is_balanced(organization)


def test_zero_job_retention_keeps_every_job(key, now, settings):
    settings.JOBS_RETENTION_DAYS = 0
    _finished_job(key, prompt="ancient", days_ago=3000, now=now)

    assert jobs_purge_finished(now=now) == 0
    assert Job.objects.count() == 1


def test_alert_and_purge_tasks_are_scheduled(db):
    schedules = dict(Schedule.objects.values_list("func", "minutes"))

    assert schedules["alerts.tasks.evaluate_alerts"] == 1
    assert schedules["webhooks.tasks.deliver_due_webhooks"] == 1  # alert deliveries too
    assert schedules["jobs.tasks.purge_old_data"] == 60


def test_purge_task_runs_every_purge(key, settings):
    _log(key, timezone.now() - timedelta(days=31))

    assert purge_old_data() == {
        "usage_hourly": 0,
        "request_log": 1,
        "jobs": 0,
        "form_tokens": 0,
        "webhook_deliveries": 0,
    }
