#!/usr/bin/env python
"""Benchmark ``GET /api/v1/usage/costs`` over many jobs: the rollup against the live tables.

    python bench/costs.py [--jobs N] [--keys K] [--requests R] [--repeat P]

In a throwaway database (a temporary SQLite file, or ``<name>_bench`` on PostgreSQL, on
whatever ``DATABASE_URL`` names) it creates one organization with K keys (a fifth of them test
keys) and has the database generate N jobs spread evenly over the last 30 days, on three models,
with their ledger rows (one ``INSERT … SELECT`` over ``generate_series`` each on PostgreSQL, a
recursive CTE on SQLite): live keys' jobs are succeeded (reserve and capture, part of the
reservation given back) or failed (reserve and release), test keys' jobs free. The worker's own
rollup (``costs_rollup``, its aggregation run by the database) then rolls up every closed hour.

Then, through Django's full WSGI handler in this process, it times request by request:

- ``ping``: an unauthenticated DRF view under the same middleware, no query (the yardstick);
- ``usage``: ``GET /api/v1/usage``, the existing usage report (a second yardstick);
- ``costs-day``: 31 days of day buckets grouped by key and model, from the rollup;
- ``costs-hour``: 7 days of hour buckets grouped by key and model, from the rollup;
- ``costs-day-live``: the same 31 days with the rollup's progress reset, so every hour is read
  from the jobs and the ledger (what the endpoint would cost without a rollup), fewer times.

It prints the SQL statement count of each and the median milliseconds, and each one's ratio to
``ping`` and to ``costs-day``.
"""

import argparse
import io
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if sys.path and Path(sys.path[0]).resolve() == ROOT / "bench":
    sys.path[0] = str(ROOT)
elif str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"

from bench.inprocess import environ, send, throwaway_database  # noqa: E402

MODELS = ("gpt-4o-mini", "gpt-4o", "o1")
SPAN_DAYS = 30


def _series(count: int) -> str:
    from django.db import connection

    if connection.vendor == "postgresql":
        return f"SELECT i FROM generate_series(0, {count - 1}) AS s(i)"
    return (
        f"WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i < {count - 1}) "
        "SELECT i FROM s"
    )


def make_costs_fixture(jobs: int, keys: int, *, now) -> str:
    """Create the organization, its keys and ``jobs`` jobs with their ledger rows; return a
    live key with ``usage:read``."""
    from django.db import connection, transaction

    from accounts.audit import Actor
    from accounts.models import Plan
    from apikeys.keys.models import ApiKey
    from apikeys.keys.services import apikey_create
    from billing.models import CreditAccount, LedgerEntry
    from billing.services import organization_open
    from jobs.models import Job

    actor = Actor.system("bench")
    org = organization_open(name="Bench costs", plan_code="enterprise", credits=0, actor=actor)
    Plan.objects.filter(pk=org.plan_id).update(rate_limit_per_minute=10**9)
    _, plaintext = apikey_create(
        organization=org, name="Reader", permissions=["usage:read"], actor=actor
    )
    made = [
        apikey_create(
            organization=org,
            name=f"Key {i}",
            type="test" if i % 5 == 4 else "live",
            actor=actor,
        )[0]
        for i in range(keys)
    ]
    key_ids = [key.pk for key in made]
    test_ids = {key.pk for key in made if key.type == ApiKey.Type.TEST}
    account = CreditAccount.objects.get(organization=org)
    postgresql = connection.vendor == "postgresql"
    quote = connection.ops.quote_name
    step_seconds = SPAN_DAYS * 86400 / jobs
    start = now.timestamp() - SPAN_DAYS * 86400
    if postgresql:
        created = f"to_timestamp({start} + i * {step_seconds})"
        finished = f"to_timestamp({start} + i * {step_seconds} + 2)"
    else:
        created = f"strftime('%Y-%m-%d %H:%M:%f', {start} + i * {step_seconds}, 'unixepoch')"
        finished = f"strftime('%Y-%m-%d %H:%M:%f', {start} + i * {step_seconds} + 2, 'unixepoch')"
    key_of = "CASE " + " ".join(f"WHEN i % {keys} = {n} THEN {pk}" for n, pk in enumerate(key_ids))
    key_of += " END"
    test_of = "CASE WHEN (i % {k}) IN ({t}) THEN {yes} ELSE {no} END".format(
        k=keys,
        t=", ".join(str(n) for n, pk in enumerate(key_ids) if pk in test_ids) or "-1",
        yes="true" if postgresql else "1",
        no="false" if postgresql else "0",
    )
    model_of = "CASE i % 3 " + " ".join(f"WHEN {n} THEN '{m}'" for n, m in enumerate(MODELS))
    model_of += " END"
    # Live jobs: every 10th fails (released), the others are charged part of what they reserved.
    live = f"NOT ({test_of} = {'true' if postgresql else '1'})"
    failed = "i % 10 = 7"
    reserved = f"CASE WHEN {live} THEN 20 + i % 30 ELSE 0 END"
    charged = f"CASE WHEN {live} AND NOT ({failed}) THEN 5 + i % 15 ELSE 0 END"
    empty = "'{}'::jsonb" if postgresql else "'{}'"
    values = {
        "job_id": "'bjob_' || i",
        "organization_id": str(org.pk),
        "api_key_id": key_of,
        "project_id": f"'{made[0].project_id}'",  # every key is in the Default project
        "status": f"CASE WHEN {live} AND {failed} THEN 'failed' ELSE 'succeeded' END",
        "test": test_of,
        "prompt": "''",
        "options": empty,
        "error_code": "''",
        "error_message": "''",
        "model": model_of,
        "max_tokens": "500",
        "input_tokens": f"CASE WHEN {live} AND {failed} THEN NULL ELSE 40 + i % 100 END",
        "output_tokens": f"CASE WHEN {live} AND {failed} THEN NULL ELSE 100 + i % 400 END",
        "credits_reserved": reserved,
        "credits_charged": charged,
        "request_hash": "''",
        "attempts": "1",
        "created_at": created,
        "started_at": created,
        "finished_at": finished,
    }
    columns = ", ".join(quote(Job._meta.get_field(name).column) for name in values)
    entry_table = quote(LedgerEntry._meta.db_table)
    job_table = quote(Job._meta.db_table)
    entry_columns = (
        "account_id, kind, amount, job_id, job_ref, project_id, reason, actor_label, "
        "balance_after, created_at"
    )
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {job_table} ({columns}) "
            f"SELECT {', '.join(values.values())} FROM ({_series(jobs)}) AS series"
        )
        cursor.execute(
            f"INSERT INTO {entry_table} ({entry_columns}) "
            f"SELECT {account.pk}, 'reserve', -credits_reserved, id, job_id, project_id, '', "
            "'system', 0, "
            f"created_at FROM {job_table} WHERE organization_id = {org.pk} AND credits_reserved > 0"
        )
        cursor.execute(
            f"INSERT INTO {entry_table} ({entry_columns}) "
            f"SELECT {account.pk}, CASE WHEN status = 'failed' THEN 'release' ELSE 'capture' END, "
            f"credits_reserved - credits_charged, id, job_id, project_id, '', 'system', 0, "
            "finished_at "
            f"FROM {job_table} WHERE organization_id = {org.pk} AND credits_reserved > 0"
        )
    if postgresql:
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {job_table}; ANALYZE {entry_table}")
    return plaintext


class Driver:
    def __init__(self, api_key: str, now):
        from datetime import timedelta

        from django.core.handlers.wsgi import WSGIHandler

        self.app = WSGIHandler()
        day = now.replace(hour=0, minute=0, second=0, microsecond=0)
        month = (day - timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
        week = (day - timedelta(days=6)).strftime("%Y-%m-%dT%H:%M:%SZ")
        tomorrow = (day + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        auth = {"HTTP_AUTHORIZATION": f"Bearer {api_key}"}
        costs = "/api/v1/usage/costs"
        self.environs = {
            "ping": environ("/api/bench/ping"),
            "usage": environ("/api/v1/usage", **auth),
            "costs-day": environ(
                costs,
                QUERY_STRING=f"start={month}&end={tomorrow}&bucket=day&group_by=key,model",
                **auth,
            ),
            "costs-hour": environ(
                costs,
                QUERY_STRING=f"start={week}&end={tomorrow}&bucket=hour&group_by=key,model",
                **auth,
            ),
        }
        self.environs["costs-day-live"] = self.environs["costs-day"]

    def request(self, variant: str) -> tuple[str, bytes]:
        request = dict(self.environs[variant], **{"wsgi.input": io.BytesIO()})
        status, _, body = send(self.app, request)
        if not status.startswith("200"):
            raise SystemExit(f"{variant}: {status} {body[:300]!r}")
        return status, body

    def time(self, variant: str, count: int) -> list[float]:
        out = []
        for _ in range(count):
            began = time.perf_counter()
            self.request(variant)
            out.append((time.perf_counter() - began) * 1000)
        return out


def statements(driver: Driver, variant: str) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from apikeys.usage import metering

    driver.request(variant)
    metering.flush()  # a flush of buffered usage falling due is not the endpoint's statements
    with CaptureQueriesContext(connection) as captured:
        driver.request(variant)
    return len(captured.captured_queries)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=1_000_000)
    parser.add_argument("--keys", type=int, default=50)
    parser.add_argument("--requests", type=int, default=20, help="requests per variant, round")
    parser.add_argument("--repeat", type=int, default=3, help="rounds")
    parser.add_argument("--live-requests", type=int, default=3, help="of costs-day-live")
    args = parser.parse_args(argv)

    with throwaway_database():
        from django.utils import timezone

        from bench.report import describe_backends
        from jobs.models import CostHourly, CostRollup
        from jobs.services.costs import costs_rollup

        now = timezone.now()
        database, cache = describe_backends()
        print(f"costs benchmark: {database}; cache {cache}")
        began = time.perf_counter()
        plaintext = make_costs_fixture(args.jobs, args.keys, now=now)
        took = time.perf_counter() - began
        print(f"{args.jobs:,} jobs and their ledger rows generated in {took:.1f} s")
        began, runs = time.perf_counter(), 0
        while costs_rollup()["rolled"]:
            runs += 1
        rolled = CostRollup.objects.get().rolled_until
        took = time.perf_counter() - began
        print(
            f"rollup: {runs} runs, {CostHourly.objects.count():,} rows, up to "
            f"{rolled:%Y-%m-%d %H:%M} UTC, in {took:.1f} s"
        )
        driver = Driver(plaintext, now)
        counts = {v: statements(driver, v) for v in ("ping", "usage", "costs-day", "costs-hour")}
        for variant in ("ping", "usage", "costs-day", "costs-hour"):
            driver.time(variant, 3)  # warm up
        medians = {v: [] for v in ("ping", "usage", "costs-day", "costs-hour")}
        for _ in range(args.repeat):
            for variant in medians:
                medians[variant].append(statistics.median(driver.time(variant, args.requests)))
        CostRollup.objects.update(rolled_until=None)  # every hour read from the jobs
        counts["costs-day-live"] = statements(driver, "costs-day-live")
        medians["costs-day-live"] = [
            statistics.median(driver.time("costs-day-live", args.live_requests))
        ]
        CostRollup.objects.update(rolled_until=rolled)
        ping = statistics.median(medians["ping"])
        day = statistics.median(medians["costs-day"])
        print(
            f"\nmedian ms per request ({args.repeat} rounds of {args.requests}; "
            f"costs-day-live: {args.live_requests})"
        )
        print("| request | statements | median ms | / ping | / costs-day |")
        print("|---|---|---|---|---|")
        for variant, figures in medians.items():
            median = statistics.median(figures)
            print(
                f"| {variant} | {counts[variant]} | {median:.1f} | {median / ping:.1f} | "
                f"{median / day:.2f} |"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
