"""Many submissions at once never overdraw the credit pool (PostgreSQL, real transactions)."""

import threading
from collections import Counter

import pytest
from django.db import connection
from django.db.models import Min, Sum
from rest_framework.test import APIClient

from billing.models import LedgerEntry
from billing.selectors import credits_balance
from jobs.models import Job
from tests.helpers import bearer, requires_postgres

pytestmark = [
    requires_postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

THREADS = 8
PER_THREAD = 5
BALANCE = 15


def test_concurrent_submits_never_overdraw(make_org, make_key, settings):
    settings.APIKEYS_RATE_LIMITS_ENABLED = False
    org = make_org(credits=BALANCE)
    _key, plaintext = make_key(org)
    barrier = threading.Barrier(THREADS)
    outcomes = []
    lock = threading.Lock()

    def submit_many(n: int):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=bearer(plaintext))
        try:
            barrier.wait(timeout=10)
            for i in range(PER_THREAD):
                response = client.post(
                    "/api/v1/generate", {"prompt": f"thread {n} job {i}"}, format="json"
                )
                code = response.json()["error"]["code"] if response.status_code != 202 else ""
                with lock:
                    outcomes.append((response.status_code, code))
        finally:
            connection.close()

    threads = [threading.Thread(target=submit_many, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)

    assert len(outcomes) == THREADS * PER_THREAD
    assert Counter(outcomes) == {
        (202, ""): BALANCE,
        (402, "insufficient_credits"): THREADS * PER_THREAD - BALANCE,
    }
    assert credits_balance(organization=org) == 0
    ledger = LedgerEntry.objects.filter(account__organization=org)
    assert ledger.aggregate(s=Sum("amount"))["s"] == 0
    assert ledger.aggregate(m=Min("balance_after"))["m"] >= 0
    assert ledger.filter(kind=LedgerEntry.Kind.RESERVE).count() == BALANCE
    assert Job.objects.filter(organization=org).count() == BALANCE


def test_concurrent_submits_and_settlements_keep_the_ledger_sum(make_org, make_key, settings):
    """Submissions race with workers finishing jobs: the balance still equals the ledger sum."""
    from jobs.services import job_run, job_submit

    settings.APIKEYS_RATE_LIMITS_ENABLED = False
    org = make_org(credits=10)
    key, _ = make_key(org)
    first = [job_submit(key=key, prompt=f"seed {i}").job for i in range(6)]
    barrier = threading.Barrier(4)
    errors = []

    def submitter():
        try:
            barrier.wait(timeout=10)
            for i in range(5):
                try:
                    job_submit(key=key, prompt=f"more {i}")
                except Exception as exc:  # collected, asserted below
                    if getattr(exc, "code", "") != "insufficient_credits":
                        errors.append(exc)
        finally:
            connection.close()

    def runner(jobs, fail: bool):
        try:
            barrier.wait(timeout=10)
            for job in jobs:
                if fail:
                    Job.objects.filter(pk=job.pk).update(options={"simulate_error": "fatal"})
                job_run(job_id=job.job_id)
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=submitter),
        threading.Thread(target=submitter),
        threading.Thread(target=runner, args=(first[:3], False)),
        threading.Thread(target=runner, args=(first[3:], True)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    ledger = LedgerEntry.objects.filter(account__organization=org)
    balance = credits_balance(organization=org)
    assert balance >= 0
    assert ledger.aggregate(s=Sum("amount"))["s"] == balance
    # 10 credits, 3 captured, 3 released: at most 7 held by queued jobs, and all of it accounted.
    queued = Job.objects.filter(organization=org, status=Job.Status.QUEUED).count()
    assert balance == 10 - 3 - queued
