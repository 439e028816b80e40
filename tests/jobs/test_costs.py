"""GET /api/v1/usage/costs: bounds, buckets and grouping, refunds and cancels, test keys,
organizations apart, the rollup against the live tables and the ledger, bounded queries."""

import random
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.db.models import Sum
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from accounts.projects.services import project_create
from apikeys.keys.services import apikey_update
from apikeys.usage import metering
from billing.models import LedgerEntry
from jobs.costs import CostQuery, bucket_start, costs_report
from jobs.engines import DevelopmentEngine, GenerationRequest
from jobs.models import CostHourly, CostRollup, Job
from jobs.services import job_cancel, job_fail, job_retry, job_run, job_submit
from jobs.services.cancel import job_cancel_finish
from jobs.services.costs import costs_rollup
from jobs.services.execution import job_claim
from tests.helpers import SYSTEM

COSTS = "/api/v1/usage/costs"
DAY0 = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.fixture
def at(monkeypatch):
    """Return ``at(moment)``: from then on, ``timezone.now()`` is ``moment``."""

    def move(moment: datetime) -> None:
        monkeypatch.setattr(timezone, "now", lambda: moment)

    return move


@pytest.fixture
def rich_org(make_org):
    return make_org(credits=10_000_000)


@pytest.fixture
def reader(rich_org, make_key, client_for):
    """A live key with usage:read, and its client."""
    key, plaintext = make_key(rich_org, permissions=["usage:read", "jobs:write"], name="reader")
    return key, client_for(plaintext)


def submit(key, *, model="gpt-4o-mini", prompt="hello costs", max_tokens=200) -> Job:
    return job_submit(
        key=key, prompt=prompt, options={"model": model, "max_tokens": max_tokens}
    ).job


def succeed(job: Job) -> Job:
    job_run(job_id=job.job_id)
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED
    return job


def ledger_net(jobs) -> int:
    """Minus the ledger's sum over the rows of ``jobs``: what the ledger says they cost."""
    total = LedgerEntry.objects.filter(job__in=[j.pk for j in jobs]).aggregate(s=Sum("amount"))
    return -(total["s"] or 0)


def costs(client, **params):
    return client.get(COSTS, params)


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


# --- Bounds ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({}, "start"),
        ({"start": "yesterday"}, "start"),
        ({"start": "2026-11-01T00:00:00Z", "end": "2026-12-03T00:00:00Z"}, "end"),
        ({"start": "2026-11-01T00:00:00Z", "end": "2026-11-08T01:00:00Z", "bucket": "hour"}, "end"),
        ({"start": "2026-11-01T00:00:00Z", "end": "2026-11-01T00:00:00Z"}, "end"),
        ({"start": "2026-11-02T00:00:00Z", "end": "2026-11-01T00:00:00Z"}, "end"),
        ({"start": "2026-11-01T00:00:00Z", "bucket": "minute"}, "bucket"),
        ({"start": "2026-11-01T00:00:00Z", "bucket": "week"}, "bucket"),
        ({"start": "2026-11-01T00:00:00Z", "group_by": "key,project"}, "group_by"),
        ({"start": "2026-11-01T00:00:00Z", "group_by": "x" * 5000}, "group_by"),
        ({"start": "0001-01-01T00:00:00Z", "end": "0001-01-02T00:00:00Z"}, "start"),
        ({"start": "9999-12-31T00:00:00Z", "end": "9999-12-31T23:00:00Z"}, "start"),
    ],
)
def test_out_of_bounds_or_malformed_queries_are_invalid_request_with_fields(reader, params, field):
    _, client = reader

    response = costs(client, **params)

    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    assert field in error["fields"]


def test_a_control_character_in_the_query_is_invalid_request_not_a_500(reader):
    _, client = reader

    response = costs(client, start="2026-11-01T00:00:00\x00Z")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_request"


def test_the_largest_ranges_allowed_are_31_days_of_days_and_7_days_of_hours(reader):
    _, client = reader

    days = costs(client, start="2026-11-01", end="2026-12-02")
    hours = costs(client, start="2026-11-01T00:00Z", end="2026-11-08T00:00Z", bucket="hour")

    assert days.status_code == hours.status_code == 200
    assert len(days.json()["buckets"]) == 31
    assert len(hours.json()["buckets"]) == 168


def test_bounds_are_rounded_out_to_whole_buckets(reader):
    _, client = reader

    body = costs(client, start="2026-11-01T10:30:00+02:00", end="2026-11-02T00:00:01Z").json()

    assert (body["start"], body["end"]) == ("2026-11-01T00:00:00Z", "2026-11-03T00:00:00Z")
    assert [b["start"] for b in body["buckets"]] == ["2026-11-01T00:00:00Z", "2026-11-02T00:00:00Z"]


def test_costs_need_usage_read(rich_org, make_key, client_for):
    _, plaintext = make_key(rich_org, permissions=["jobs:write", "jobs:read"])

    response = costs(client_for(plaintext), start="2026-11-01")

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "insufficient_permissions"


# --- Buckets and grouping --------------------------------------------------------------------


def test_every_bucket_is_listed_and_empty_ones_have_no_results(reader, at):
    key, client = reader
    at(DAY0 + timedelta(days=2, hours=5))
    job = succeed(submit(key))
    at(DAY0 + timedelta(days=5))

    body = costs(client, start=iso(DAY0), end=iso(DAY0 + timedelta(days=4))).json()

    assert [len(b["results"]) for b in body["buckets"]] == [0, 0, 1, 0]
    [row] = body["buckets"][2]["results"]
    assert row == {
        "key_id": None,
        "key_name": None,
        "model": None,
        "test": False,
        "credits": job.credits_charged,
        "jobs": 1,
        "input_tokens": job.input_tokens,
        "output_tokens": job.output_tokens,
    }
    assert body["totals"]["credits"] == job.credits_charged


def test_grouping_by_key_and_model_splits_rows_and_keeps_the_sums(rich_org, reader, make_key, at):
    _, client = reader
    first, _ = make_key(rich_org, name="first")
    second, _ = make_key(rich_org, name="second")
    at(DAY0 + timedelta(hours=3))
    jobs = [
        succeed(submit(first, model="gpt-4o-mini")),
        succeed(submit(first, model="gpt-4o")),
        succeed(submit(second, model="gpt-4o")),
        succeed(submit(second, model="gpt-4o", prompt="a longer prompt for more tokens")),
    ]
    at(DAY0 + timedelta(days=1))
    span = {"start": iso(DAY0), "end": iso(DAY0 + timedelta(days=1))}

    by_both = costs(client, group_by="key,model", **span).json()["buckets"][0]["results"]
    by_key = costs(client, group_by="key", **span).json()["buckets"][0]["results"]
    by_model = costs(client, group_by="model , model", **span).json()["buckets"][0]["results"]
    none = costs(client, **span).json()["buckets"][0]["results"]

    expected = defaultdict(int)
    for job in jobs:
        expected[(job.api_key.key_id, job.model)] += job.credits_charged
    assert {(r["key_id"], r["model"]): r["credits"] for r in by_both} == expected
    assert {r["key_name"] for r in by_both} == {"first", "second"}
    assert {r["key_id"]: r["jobs"] for r in by_key} == {first.key_id: 2, second.key_id: 2}
    assert {r["model"]: r["jobs"] for r in by_model} == {"gpt-4o-mini": 1, "gpt-4o": 3}
    assert all(r["model"] is None for r in by_key) and all(r["key_id"] is None for r in by_model)
    total = sum(job.credits_charged for job in jobs)
    assert [r["credits"] for r in none] == [total] == [sum(r["credits"] for r in by_key)]
    assert sum(r["credits"] for r in by_model) == total == ledger_net(jobs)


def test_hour_buckets_put_each_job_in_the_hour_it_was_submitted(reader, at):
    key, client = reader
    at(DAY0 + timedelta(hours=1, minutes=59, seconds=59))
    early = succeed(submit(key))
    at(DAY0 + timedelta(hours=2))
    late = succeed(submit(key))
    at(DAY0 + timedelta(hours=3))

    body = costs(client, start=iso(DAY0), end=iso(DAY0 + timedelta(hours=3)), bucket="hour")

    credits = [sum(r["credits"] for r in b["results"]) for b in body.json()["buckets"]]
    assert credits == [0, early.credits_charged, late.credits_charged]


# --- Refunds, cancels, failures, retries, jobs in flight ------------------------------------


def test_refunds_cancels_and_failures_count_as_the_ledger_counts_them(reader, at):
    key, client = reader
    at(DAY0 + timedelta(hours=1))
    charged = succeed(
        submit(key, model="gpt-4o", max_tokens=4000)
    )  # most of the reservation comes back
    assert 0 < charged.credits_charged < charged.credits_reserved
    job_cancel(job=submit(key), actor=SYSTEM)
    failed = submit(key)
    failed = job_claim(job_id=failed.job_id)
    job_fail(job=failed, code="upstream_error", message="no")
    running = job_claim(job_id=submit(key, model="gpt-4o").job_id)
    job_cancel(job=running, actor=SYSTEM)  # requested; the engine returns anyway
    result = DevelopmentEngine().generate(
        GenerationRequest(running.prompt, running.options, False, model="gpt-4o", max_tokens=200)
    )
    assert job_cancel_finish(job=running, result=result)
    running.refresh_from_db()
    retried = job_claim(job_id=submit(key).job_id)
    job_fail(job=retried, code="upstream_error", message="no")
    job_retry(job=Job.objects.get(pk=retried.pk), actor=SYSTEM)
    succeed(Job.objects.get(pk=retried.pk))  # support's retry is free
    in_flight = submit(key)  # holds its reservation until it settles
    at(DAY0 + timedelta(days=1))

    body = costs(client, start=iso(DAY0), end=iso(DAY0 + timedelta(days=1))).json()

    [row] = body["buckets"][0]["results"]
    assert row["jobs"] == 6
    assert row["credits"] == (
        charged.credits_charged + running.credits_charged + in_flight.credits_reserved
    )
    assert running.status == Job.Status.CANCELED and running.credits_charged > 0
    jobs = Job.objects.filter(api_key=key)
    assert row["credits"] == ledger_net(jobs)

    succeed(in_flight)
    in_flight.refresh_from_db()
    settled = costs(client, start=iso(DAY0), end=iso(DAY0 + timedelta(days=1))).json()
    assert settled["totals"]["credits"] == row["credits"] - (
        in_flight.credits_reserved - in_flight.credits_charged
    )
    assert settled["totals"]["credits"] == ledger_net(jobs)


# --- Test keys -------------------------------------------------------------------------------


def test_test_keys_jobs_are_rows_of_their_own_with_no_credits(rich_org, reader, make_key, at):
    key, client = reader
    sandbox, _ = make_key(rich_org, type="test", name="sandbox")
    at(DAY0 + timedelta(hours=1))
    succeed(submit(key))
    test_job = succeed(submit(sandbox))
    at(DAY0 + timedelta(days=1))

    for group_by in ("", "model", "key"):
        results = costs(
            client, start=iso(DAY0), end=iso(DAY0 + timedelta(days=1)), group_by=group_by
        ).json()["buckets"][0]["results"]
        assert [r["test"] for r in results] == [False, True]
        assert results[1]["credits"] == 0
        assert results[1]["jobs"] == 1
        assert results[1]["output_tokens"] == test_job.output_tokens


def test_a_test_key_sees_only_test_keys_costs(rich_org, reader, make_key, client_for, at):
    key, _ = reader
    sandbox, plaintext = make_key(rich_org, type="test", permissions=["usage:read", "jobs:write"])
    at(DAY0 + timedelta(hours=1))
    succeed(submit(key))
    succeed(submit(sandbox))
    at(DAY0 + timedelta(days=1))

    body = costs(
        client_for(plaintext), start=iso(DAY0), end=iso(DAY0 + timedelta(days=1)), group_by="key"
    ).json()

    [row] = body["buckets"][0]["results"]
    assert (row["key_id"], row["test"], row["credits"]) == (sandbox.key_id, True, 0)


# --- Organizations apart ---------------------------------------------------------------------


def test_a_key_sees_only_its_own_organizations_costs(
    rich_org, reader, make_org, make_key, client_for, at
):
    key, client = reader
    other = make_org(credits=1_000_000)
    other_key, other_plaintext = make_key(other, permissions=["usage:read", "jobs:write"])
    at(DAY0 + timedelta(hours=1))
    mine = succeed(submit(key))
    theirs = [succeed(submit(other_key, model="gpt-4o")) for _ in range(2)]
    at(DAY0 + timedelta(hours=3))
    costs_rollup()  # both organizations' hour is rolled up: the rollup is read scoped too
    at(DAY0 + timedelta(days=1))
    span = {"start": iso(DAY0), "end": iso(DAY0 + timedelta(days=1)), "group_by": "key,model"}

    my_rows = costs(client, **span).json()["buckets"][0]["results"]
    their_rows = costs(client_for(other_plaintext), **span).json()["buckets"][0]["results"]

    assert [(r["key_id"], r["credits"]) for r in my_rows] == [(key.key_id, mine.credits_charged)]
    assert [(r["key_id"], r["jobs"]) for r in their_rows] == [(other_key.key_id, 2)]
    assert their_rows[0]["credits"] == ledger_net(theirs)
    assert CostHourly.objects.filter(organization=other).exists()


def test_a_key_sees_only_its_own_projects_costs_and_a_moved_keys_jobs_stay_behind(
    rich_org, make_key, client_for, at
):
    web = project_create(organization=rich_org, name="Web", actor=SYSTEM)
    reader, plaintext = make_key(rich_org, permissions=["usage:read", "jobs:write"])
    worker, _ = make_key(rich_org, project=web)  # another project's key
    at(DAY0 + timedelta(hours=1))
    before_move = [succeed(submit(worker)) for _ in range(2)]
    at(DAY0 + timedelta(hours=3))
    costs_rollup()  # hour 1 from the rollup, the rest live
    apikey_update(key=worker, actor=SYSTEM, project=reader.project_id)  # moved to Default
    worker.refresh_from_db()
    at(DAY0 + timedelta(hours=4))
    mine = [succeed(submit(reader)), succeed(submit(worker))]
    at(DAY0 + timedelta(days=1))
    span = {"start": iso(DAY0), "end": iso(DAY0 + timedelta(days=1)), "group_by": "key"}
    client = client_for(plaintext)

    rows = costs(client, **span).json()["buckets"][0]["results"]
    assert sorted((r["key_id"], r["jobs"], r["credits"]) for r in rows) == sorted(
        (job.api_key.key_id, 1, job.credits_charged) for job in mine
    )
    assert costs(client, project=reader.project_id, **span).json()["totals"]["jobs"] == 2
    elsewhere = costs(client, project=web.project_id, **span).json()
    assert elsewhere["totals"]["jobs"] == 0  # another project's id reports nothing
    # The organization's pages see both projects, the web project's jobs where they were made.
    report = costs_report(
        organization=rich_org,
        query=CostQuery(start=DAY0, end=DAY0 + timedelta(days=1), group_by=("key",)),
    )
    assert report["totals"]["jobs"] == 4
    assert report["totals"]["credits"] == ledger_net(before_move + mine)
    assert set(CostHourly.objects.values_list("project_id", flat=True)) == {web.project_id}


# --- The rollup against the live tables and the ledger, over a month ------------------------


def _a_month_of_jobs(organization, make_key, at, seed=26):
    """Submit and finish ~240 jobs over 30 days on three live keys and a test key, with every
    ending: charged with a refund, failed, canceled queued, canceled after the engine returned,
    retried by support; the last few left in flight. Return the jobs."""
    rng = random.Random(seed)
    keys = [make_key(organization, name=f"k{i}")[0] for i in range(3)]
    keys.append(make_key(organization, type="test", name="sandbox")[0])
    jobs = []
    for index in range(240):
        moment = DAY0 + timedelta(minutes=rng.randrange(30 * 24 * 60), seconds=rng.random())
        at(moment)
        key = rng.choice(keys)
        model = rng.choice(["gpt-4o-mini", "gpt-4o"])
        job = submit(key, model=model, prompt="p" * rng.randrange(1, 400), max_tokens=500)
        ending = rng.random()
        if index >= 236:
            pass  # in flight
        elif ending < 0.6:
            succeed(job)
        elif ending < 0.7:
            job_fail(job=job_claim(job_id=job.job_id), code="upstream_error", message="no")
        elif ending < 0.8:
            job_cancel(job=job, actor=SYSTEM)
        elif ending < 0.9:
            running = job_claim(job_id=job.job_id)
            job_cancel(job=running, actor=SYSTEM)
            result = DevelopmentEngine().generate(
                GenerationRequest(job.prompt, job.options, key.type == "test", model=model)
            )
            job_cancel_finish(job=running, result=result)
        else:
            job_fail(job=job_claim(job_id=job.job_id), code="upstream_error", message="no")
            job_retry(job=Job.objects.get(pk=job.pk), actor=SYSTEM)
            succeed(job)
        jobs.append(job)
    return jobs


def _ledger_by_day_key_model(organization) -> dict:
    """What the ledger says each (day, key, model) cost, summed row by row from the ledger."""
    out = defaultdict(int)
    entries = LedgerEntry.objects.filter(
        account__organization=organization, job__isnull=False
    ).values_list("job__created_at", "job__api_key__key_id", "job__model", "amount")
    for created_at, key_id, model, amount in entries:
        out[(created_at.astimezone(UTC).date().isoformat(), key_id, model)] -= amount
    return {k: v for k, v in out.items() if v}


def _report_by_day_key_model(body) -> dict:
    return {
        (b["start"][:10], r["key_id"], r["model"]): r["credits"]
        for b in body["buckets"]
        for r in b["results"]
        if r["credits"]
    }


def test_a_month_of_costs_equals_the_ledger_from_the_rollup_and_from_the_live_tables(
    rich_org, reader, make_key, at
):
    _, client = reader
    jobs = _a_month_of_jobs(rich_org, make_key, at)
    at(DAY0 + timedelta(days=30, hours=1))
    span = {"start": iso(DAY0), "end": iso(DAY0 + timedelta(days=30)), "group_by": "key,model"}
    ledger = _ledger_by_day_key_model(rich_org)
    account_net = -LedgerEntry.objects.filter(
        account__organization=rich_org, kind__in=["reserve", "capture", "release"]
    ).aggregate(s=Sum("amount"))["s"]

    live = costs(client, **span).json()  # nothing rolled up yet: all from the jobs
    assert CostRollup.objects.count() == 0
    runs = 0
    while costs_rollup()["rolled"]:
        runs += 1
    rolled = costs(client, **span).json()

    assert runs >= 5  # a month catches up a week per run
    assert CostHourly.objects.exists()
    assert _report_by_day_key_model(live) == ledger == _report_by_day_key_model(rolled)
    assert live == rolled
    assert rolled["totals"]["credits"] == account_net == ledger_net(jobs)
    assert rolled["totals"]["jobs"] == len(jobs)
    assert rolled["totals"]["output_tokens"] == sum(
        j.output_tokens or 0 for j in Job.objects.filter(pk__in=[j.pk for j in jobs])
    )


def test_a_job_settling_after_its_hour_was_rolled_up_reaches_that_hour(reader, at):
    key, client = reader
    at(DAY0 + timedelta(hours=1))
    job = submit(key, model="gpt-4o", max_tokens=4000)  # most of it comes back on success
    at(DAY0 + timedelta(hours=3))
    costs_rollup()
    span = {"start": iso(DAY0), "end": iso(DAY0 + timedelta(days=1))}
    assert costs(client, **span).json()["totals"]["credits"] == job.credits_reserved

    succeed(job)
    job.refresh_from_db()
    at(DAY0 + timedelta(hours=3, minutes=1))
    assert costs_rollup()["recomputed"] == 1

    body = costs(client, **span).json()
    assert job.credits_charged < job.credits_reserved
    assert body["totals"]["credits"] == job.credits_charged == ledger_net([job])
    assert CostHourly.objects.get().credits == job.credits_charged


def test_rolling_up_twice_changes_nothing(reader, at):
    key, client = reader
    at(DAY0 + timedelta(hours=1))
    succeed(submit(key))
    at(DAY0 + timedelta(hours=2))
    costs_rollup()
    before = list(CostHourly.objects.values())

    costs_rollup()

    assert list(CostHourly.objects.values()) == before


def test_the_current_hour_is_read_live_before_the_worker_rolls_it_up(reader, at):
    key, client = reader
    at(DAY0 + timedelta(hours=1))
    costs_rollup()  # nothing yet; rolled up to the hour before
    job = succeed(submit(key))

    body = costs(client, start=iso(DAY0), end=iso(DAY0 + timedelta(hours=2)), bucket="hour")

    assert body.json()["buckets"][1]["results"][0]["credits"] == job.credits_charged
    assert not CostHourly.objects.exists()


# --- Bounded queries -------------------------------------------------------------------------


@pytest.mark.parametrize("rolled_up", [False, True])
def test_a_report_makes_the_same_queries_for_ten_jobs_and_a_hundred(
    rich_org, reader, make_key, at, rolled_up
):
    key, client = reader
    span = {"start": iso(DAY0), "end": iso(DAY0 + timedelta(days=31)), "group_by": "key,model"}

    def queries() -> int:
        at(DAY0 + timedelta(days=31, hours=1))
        if rolled_up:  # from scratch: the jobs were submitted "in the past"
            CostRollup.objects.all().delete()
            while costs_rollup()["rolled"]:
                pass
        costs(client, **span)  # the key's last use is written once a minute: not measured
        metering.flush()  # nor a flush of the buffered usage that falls due meanwhile
        with CaptureQueriesContext(connection) as captured:
            assert costs(client, **span).status_code == 200
        return len(captured.captured_queries)

    keys = [key] + [make_key(rich_org)[0] for _ in range(4)]
    for index in range(10):
        at(DAY0 + timedelta(days=index * 3, hours=index))
        succeed(submit(keys[index % 5], model=["gpt-4o", "gpt-4o-mini"][index % 2]))
    few = queries()
    for index in range(90):
        at(DAY0 + timedelta(hours=index * 8))
        succeed(submit(keys[index % 5], model=["gpt-4o", "gpt-4o-mini"][index % 2]))
    many = queries()

    assert few == many


# --- Property: the rollup kept run after run agrees with the ledger -------------------------

STEPS = st.lists(
    st.tuples(
        st.sampled_from(["submit", "submit", "settle", "fail", "rollup"]),
        st.integers(min_value=0, max_value=150),  # minutes that pass first
        st.integers(min_value=0, max_value=10**6),  # which key, model or job
    ),
    min_size=1,
    max_size=25,
)


@hypothesis_settings(
    max_examples=15,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
@given(steps=STEPS)
def test_after_every_rollup_run_the_report_equals_the_ledger(make_org, make_key, steps):
    """Jobs are submitted and settled, minutes and hours pass, the worker runs now and then:
    right after each run, the report by day, key and model equals the ledger's rows."""
    CostRollup.objects.all().delete()
    CostHourly.objects.all().delete()
    organization = make_org(credits=10_000_000)
    keys = [make_key(organization)[0], make_key(organization)[0]]
    _, plaintext = make_key(organization, permissions=["usage:read"])
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    moment, open_jobs = DAY0, []
    original = timezone.now
    try:
        for action, minutes, pick in [*steps, ("rollup", 10, 0)]:
            moment += timedelta(minutes=minutes)
            timezone.now = lambda moment=moment: moment
            if action == "submit":
                key = keys[pick % 2]
                open_jobs.append(submit(key, model=["gpt-4o", "gpt-4o-mini"][pick % 3 % 2]))
            elif action in ("settle", "fail") and open_jobs:
                job = open_jobs.pop(pick % len(open_jobs))
                if action == "settle":
                    succeed(job)
                else:
                    job_fail(job=job_claim(job_id=job.job_id), code="upstream", message="no")
            elif action == "rollup":
                costs_rollup()
                end = bucket_start(moment, "day") + timedelta(days=1)
                start = max(DAY0, end - timedelta(days=31))
                body = costs(client, start=iso(start), end=iso(end), group_by="key,model")
                assert _report_by_day_key_model(body.json()) == _ledger_by_day_key_model(
                    organization
                )
    finally:
        timezone.now = original
