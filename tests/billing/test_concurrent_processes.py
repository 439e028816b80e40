"""200 submissions at once from 4 processes (5 threads each) on PostgreSQL: every cap holds.

Each scenario makes one cap the binding one (credits, a key's spend limit, a project's spend
limit, the organization's spend limit, jobs in flight, an Idempotency-Key) and checks that
exactly as many jobs as it allows were admitted, that every refusal carries its code, that the
balance equals the ledger's sum and never went below zero, and that the counters a submission
checks equal what the jobs themselves sum to.
"""

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from django.db import connection
from django.db.models import Min, Sum
from django.utils import timezone

from accounts.models import Plan, Project
from accounts.projects.services import project_create
from apikeys.keys.models import ApiKey
from billing.models import CreditAccount, LedgerEntry
from jobs.models import Job
from jobs.selectors import (
    spend_for_key,
    spend_for_organization,
    spend_for_project,
    spend_period_start,
)
from jobs.services.recount import counters_recount
from tests.helpers import SYSTEM, requires_postgres

pytestmark = [
    requires_postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

PROCESSES = 4
THREADS = 5
REQUESTS = 200
ROOT = Path(__file__).resolve().parents[2]
# gpt-4o-mini with its 4096 output tokens and a short prompt: 1 credit reserved.
BODY = {"prompt": "A lighthouse at dusk"}


def submit_from_processes(requests):
    """Send ``requests`` ([key, body, idempotency key]) from PROCESSES processes at once."""
    db = connection.settings_dict
    env = dict(
        os.environ,
        DATABASE_URL=f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        ALLOWED_HOSTS="testserver",
        APIKEYS_RATE_LIMITS_ENABLED="False",
        APIKEYS_USAGE_FLUSH_THREAD="False",
    )
    shares = [requests[n::PROCESSES] for n in range(PROCESSES)]
    children = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.billing.submitter"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in shares
    ]
    try:
        for child, share in zip(children, shares, strict=True):
            child.stdin.write(json.dumps({"requests": share, "threads": THREADS}) + "\n")
            child.stdin.flush()
        for child in children:
            assert child.stdout.readline().strip() == "ready"
        for child in children:
            child.stdin.write("go\n")
            child.stdin.flush()
        outcomes = [None] * len(requests)
        for n, child in enumerate(children):
            out, _ = child.communicate(timeout=240)
            assert child.returncode == 0
            # Back in the order of ``requests``: child n sent requests n, n + PROCESSES, ...
            outcomes[n::PROCESSES] = [tuple(o) for o in json.loads(out.strip().splitlines()[-1])]
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
    assert None not in outcomes and len(outcomes) == REQUESTS
    return outcomes


def assert_books_balance(org):
    account = CreditAccount.objects.get(organization=org)
    ledger = LedgerEntry.objects.filter(account=account)
    assert account.balance == ledger.aggregate(s=Sum("amount"))["s"]
    assert ledger.aggregate(m=Min("balance_after"))["m"] >= 0
    jobs = Job.objects.filter(organization=org)
    reserves = ledger.filter(kind=LedgerEntry.Kind.RESERVE)
    assert reserves.count() == jobs.filter(credits_reserved__gt=0).count()
    # The counters a submission checks are what the jobs sum to.
    month = spend_period_start(ApiKey.SpendPeriod.MONTH, timezone.now())
    assert account.jobs_in_flight == jobs.filter(status__in=["queued", "running"]).count()
    assert account.spend_month == spend_for_organization(organization=org, since=month)
    for project in Project.objects.filter(organization=org):
        assert project.spent_this_month(month.date()) == spend_for_project(
            project=project, since=month
        )
    for key in ApiKey.objects.filter(organization=org):
        assert key.spend_total == spend_for_key(key=key, since=None)
        assert key.spend_month == spend_for_key(key=key, since=month)
        day = spend_period_start(ApiKey.SpendPeriod.DAY, timezone.now())
        assert key.spend_day == spend_for_key(key=key, since=day)
    assert counters_recount(organization=org) == []


def open_org(make_org, credits):
    """An organization whose cap on jobs in flight no scenario reaches unless it sets one."""
    org = make_org(credits=credits)
    Plan.objects.filter(pk=org.plan_id).update(max_jobs_in_flight=10_000)
    return org


def statuses(outcomes):
    return Counter((status, code) for status, code, _job in outcomes)


def test_credits_run_out_exactly(make_org, make_key):
    org = open_org(make_org, 37)
    _key, plaintext = make_key(org)

    outcomes = submit_from_processes([[plaintext, BODY, None]] * REQUESTS)

    assert statuses(outcomes) == {(202, ""): 37, (402, "insufficient_credits"): REQUESTS - 37}
    assert CreditAccount.objects.get(organization=org).balance == 0
    assert_books_balance(org)


def test_each_keys_spend_limit_holds(make_org, make_key):
    org = open_org(make_org, 10_000)
    _key, first = make_key(org, spend_limit_credits=23, spend_limit_period="day")
    _key, second = make_key(org, spend_limit_credits=41, spend_limit_period="month")

    requests = [[first, BODY, None], [second, BODY, None]] * (REQUESTS // 2)
    outcomes = submit_from_processes(requests)

    assert statuses(outcomes) == {(202, ""): 64, (402, "spend_limit_reached"): REQUESTS - 64}
    assert_books_balance(org)


def test_the_organizations_spend_limit_holds(make_org, make_key):
    org = open_org(make_org, 10_000)
    CreditAccount.objects.filter(organization=org).update(monthly_spend_limit=29)
    keys = [make_key(org)[1] for _ in range(4)]

    outcomes = submit_from_processes([[keys[i % 4], BODY, None] for i in range(REQUESTS)])

    assert statuses(outcomes) == {
        (202, ""): 29,
        (402, "org_spend_limit_reached"): REQUESTS - 29,
    }
    assert_books_balance(org)


def test_a_projects_spend_limit_holds_and_other_projects_are_not_held_back(make_org, make_key):
    """A refusal by the project moves none of the caps checked before it (the key's)."""
    org = open_org(make_org, 10_000)
    web = project_create(organization=org, name="Web", monthly_spend_limit=19, actor=SYSTEM)
    limited = [make_key(org, project=web)[1] for _ in range(2)]
    _key, other = make_key(org)  # the Default project: no limit

    requests = [[limited[0], BODY, None], [limited[1], BODY, None], [other, BODY, None]] * 67
    outcomes = submit_from_processes(requests[:REQUESTS])

    by_key = Counter((request[0], outcome[:2]) for request, outcome in zip(requests, outcomes))
    assert by_key[other, (202, "")] == len([r for r in requests[:REQUESTS] if r[0] == other])
    admitted = by_key[limited[0], (202, "")] + by_key[limited[1], (202, "")]
    refused = sum(n for (k, o), n in by_key.items() if k in limited and o[0] == 402)
    assert admitted == 19
    assert {o[1] for (k, o) in by_key if k in limited and o[0] == 402} == {
        "project_spend_limit_reached"
    }
    assert admitted + refused == len([r for r in requests[:REQUESTS] if r[0] in limited])
    assert_books_balance(org)


def test_jobs_in_flight_stop_at_the_cap(make_org, make_key):
    org = open_org(make_org, 10_000)
    Plan.objects.filter(pk=org.plan_id).update(max_jobs_in_flight=31)
    _key, live = make_key(org)
    _key, test = make_key(org, type="test")

    outcomes = submit_from_processes([[live, BODY, None], [test, BODY, None]] * (REQUESTS // 2))

    assert statuses(outcomes) == {
        (202, ""): 31,
        (429, "too_many_jobs_in_flight"): REQUESTS - 31,
    }
    assert Job.objects.filter(organization=org).count() == 31
    assert_books_balance(org)


def test_an_idempotency_key_makes_one_job_however_many_processes_send_it(make_org, make_key):
    org = open_org(make_org, 10_000)
    _key, plaintext = make_key(org)
    other = {"prompt": "Another body"}
    # 20 Idempotency-Keys, each sent 10 times: 9 with one body and once with another.
    requests = [
        [plaintext, other if n == 9 else BODY, f"idem-{i}"] for n in range(10) for i in range(20)
    ]

    outcomes = submit_from_processes(requests)

    jobs = Job.objects.filter(organization=org)
    assert jobs.count() == 20
    by_key = {}
    for (_key, body, idempotency_key), (status, code, job_id) in zip(
        requests, outcomes, strict=True
    ):
        if status == 422:
            assert code == "idempotency_key_reused"
            continue
        assert status in (200, 202), (status, code)
        by_key.setdefault(idempotency_key, set()).add(job_id)
    # Every answer for one Idempotency-Key names the same job, and that job exists.
    assert all(len(ids) == 1 for ids in by_key.values())
    assert {i for ids in by_key.values() for i in ids} == set(jobs.values_list("job_id", flat=True))
    assert statuses(outcomes)[202, ""] >= 20
    assert_books_balance(org)


def test_a_recount_that_fixes_counters_while_processes_submit_leaves_them_exact(make_org, make_key):
    """The recount locks the rows submissions lock, in their order, before it counts: a fix made
    in the middle of 200 submissions neither loses nor counts twice any of them."""
    import threading

    org = open_org(make_org, 10_000)
    keys = [make_key(org) for _ in range(2)]
    CreditAccount.objects.filter(organization=org).update(jobs_in_flight=5, spend_month=3)
    ApiKey.objects.filter(pk=keys[0][0].pk).update(spend_day=7, spend_day_start=timezone.now())
    outcomes = []
    submitting = threading.Thread(
        target=lambda: outcomes.extend(
            submit_from_processes([[keys[i % 2][1], BODY, None] for i in range(REQUESTS)])
        )
    )

    submitting.start()
    fixes = []
    while submitting.is_alive():
        fixes.append(len(counters_recount(organization=org, fix=True)))
    submitting.join()

    assert fixes[0] > 0  # the drift was found and fixed while the submissions ran
    assert statuses(outcomes) == {(202, ""): REQUESTS}
    assert_books_balance(org)


def test_a_recount_while_processes_submit_reports_no_difference(make_org, make_key):
    """Read without locks, the counters and the jobs' sums can be a commit apart; a difference
    seen that way is counted again under the locks before it is reported."""
    import threading

    org = open_org(make_org, 10_000)
    keys = [make_key(org)[1] for _ in range(2)]
    outcomes = []
    submitting = threading.Thread(
        target=lambda: outcomes.extend(
            submit_from_processes([[keys[i % 2], BODY, None] for i in range(REQUESTS)])
        )
    )

    submitting.start()
    reports = []
    while submitting.is_alive():
        reports.append(counters_recount(organization=org))
    submitting.join()

    assert len(reports) > 1
    assert [report for report in reports if report] == []
    assert statuses(outcomes) == {(202, ""): REQUESTS}
