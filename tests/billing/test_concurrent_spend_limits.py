"""Concurrent submissions never pass a key's or an organization's spend limit, nor the plan's
cap on jobs in flight (PostgreSQL, real transactions, many threads)."""

import threading
from collections import Counter

import pytest
from django.db import connection
from django.db.models import Sum
from rest_framework.test import APIClient

from accounts.models import Plan
from billing.models import LedgerEntry
from billing.selectors import credits_balance
from billing.services import credits_spend_limit_set
from jobs.models import Job
from tests.helpers import SYSTEM, bearer, requires_postgres

pytestmark = [
    requires_postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

THREADS = 8
PER_THREAD = 4
# gpt-4o, "p", max_tokens 1000: 5 credits reserved each.
BODY = {"prompt": "p", "options": {"model": "gpt-4o", "max_tokens": 1000}}


def hammer(plaintexts: list[str]) -> Counter:
    """Submit THREADS × PER_THREAD jobs at once, thread n using key n mod len(plaintexts)."""
    barrier = threading.Barrier(THREADS)
    outcomes, lock = [], threading.Lock()

    def submit(n: int):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=bearer(plaintexts[n % len(plaintexts)]))
        try:
            barrier.wait(timeout=10)
            for _ in range(PER_THREAD):
                response = client.post("/api/v1/generate", BODY, format="json")
                code = response.json()["error"]["code"] if response.status_code != 202 else ""
                with lock:
                    outcomes.append((response.status_code, code))
        finally:
            connection.close()

    threads = [threading.Thread(target=submit, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    assert len(outcomes) == THREADS * PER_THREAD
    return Counter(outcomes)


def reserved_by(**filters) -> int:
    return Job.objects.filter(**filters).aggregate(s=Sum("credits_reserved"))["s"] or 0


def test_concurrent_submits_never_pass_the_keys_spend_limit(make_org, make_key, settings):
    settings.APIKEYS_RATE_LIMITS_ENABLED = False
    org = make_org(credits=1000)
    key, plaintext = make_key(org, spend_limit_credits=37, spend_limit_period="day")

    outcomes = hammer([plaintext])

    assert outcomes == {(202, ""): 7, (402, "spend_limit_reached"): THREADS * PER_THREAD - 7}
    assert reserved_by(api_key=key) == 35
    assert credits_balance(organization=org) == 1000 - 35
    ledger = LedgerEntry.objects.filter(account__organization=org)
    assert ledger.aggregate(s=Sum("amount"))["s"] == credits_balance(organization=org)


def test_concurrent_submits_never_pass_the_organizations_monthly_limit(
    make_org, make_key, settings
):
    settings.APIKEYS_RATE_LIMITS_ENABLED = False
    org = make_org(credits=1000)
    credits_spend_limit_set(organization=org, monthly_limit=52, actor=SYSTEM)
    plaintexts = [make_key(org)[1] for _ in range(4)]

    outcomes = hammer(plaintexts)

    assert outcomes == {(202, ""): 10, (402, "org_spend_limit_reached"): THREADS * PER_THREAD - 10}
    assert reserved_by(organization=org) == 50


def test_concurrent_submits_never_pass_the_jobs_in_flight_cap(make_org, make_key, settings):
    settings.APIKEYS_RATE_LIMITS_ENABLED = False
    org = make_org(credits=1000)
    Plan.objects.filter(pk=org.plan_id).update(max_jobs_in_flight=6)
    plaintexts = [make_key(org)[1] for _ in range(2)]

    outcomes = hammer(plaintexts)

    assert outcomes == {(202, ""): 6, (429, "too_many_jobs_in_flight"): THREADS * PER_THREAD - 6}
    assert Job.objects.filter(organization=org).count() == 6
