#!/usr/bin/env python
"""Benchmark a submission: ``POST /api/v1/generate`` next to a running job's status poll.

    python bench/generate.py [--requests N] [--repeat R]

Through Django's full WSGI handler in this process, it alternates request by request:

- ``ping``: an unauthenticated DRF view under the same middleware, no query (the yardstick);
- ``poll``: ``GET /api/v1/status/{job_id}`` of a running job, answered from its read model (with
  Redis: no query);
- ``poll-db``: the same poll with the read model off (``JOBS_READ_MODEL_SECONDS=0``), the job
  read from the database, as every running job's poll was when the target below was set;
- ``generate``: ``POST /api/v1/generate`` with a fresh ``Idempotency-Key`` each time, on a live
  key whose organization has a monthly spend limit and the key a daily one, so that every
  check a submission makes is made;
- ``poll-new``: the first poll of a job a generate of this run made, still queued (no worker
  runs): a submission writes no read model, so this poll reads the job from the database and
  stores it (with a worker, the job's claim usually writes it first).

It prints the SQL statements one warm generate and one warm poll make, the median time of
each, what the polls and the generate add over the ping, and the generate's added time over
each poll's (the target: a generate adds at most three times what a running job's poll
adds). It runs on whatever ``DATABASE_URL`` and ``REDIS_URL`` name, in a throwaway database it
creates and drops.
"""

import argparse
import collections
import contextlib
import io
import json
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

VARIANTS = ("ping", "poll", "poll-db", "generate", "poll-new")


def make_generate_fixture():
    """Create an organization with room for every job a run submits, a key and a running job."""
    from accounts.audit import Actor
    from accounts.models import Plan
    from apikeys.keys.models import ApiKey
    from apikeys.keys.services import apikey_create
    from billing.models import CreditAccount
    from billing.services import organization_open
    from jobs.models import Job
    from jobs.services import job_submit

    actor = Actor.system("bench")
    org = organization_open(name="Bench", plan_code="business", credits=10**12, actor=actor)
    Plan.objects.filter(pk=org.plan_id).update(
        rate_limit_per_minute=10**9, max_jobs_in_flight=10**9
    )
    # Limits no run reaches, but that every submission checks.
    CreditAccount.objects.filter(organization=org).update(monthly_spend_limit=10**12)
    key, plaintext = apikey_create(organization=org, name="Bench", actor=actor)
    ApiKey.objects.filter(pk=key.pk).update(
        spend_limit_credits=10**12, spend_limit_period=ApiKey.SpendPeriod.DAY
    )
    key.refresh_from_db()
    job = job_submit(key=key, prompt="A lighthouse at dusk", options={}).job
    Job.objects.filter(pk=job.pk).update(status=Job.Status.RUNNING)
    return job.job_id, plaintext


class Driver:
    def __init__(self, job_id: str, api_key: str):
        from django.core.handlers.wsgi import WSGIHandler

        self.app = WSGIHandler()
        self.count = 0
        self.api_key = api_key
        self.new_jobs = collections.deque()  # made by generates, not polled yet
        self.body = json.dumps({"prompt": "A lighthouse at dusk", "options": {}}).encode()
        self.environs = {
            "ping": environ("/api/bench/ping"),
            "poll": environ(f"/api/v1/status/{job_id}", HTTP_AUTHORIZATION=f"Bearer {api_key}"),
            "poll-db": environ(f"/api/v1/status/{job_id}", HTTP_AUTHORIZATION=f"Bearer {api_key}"),
            "generate": environ(
                "/api/v1/generate",
                REQUEST_METHOD="POST",
                HTTP_AUTHORIZATION=f"Bearer {api_key}",
                CONTENT_TYPE="application/json",
                CONTENT_LENGTH=str(len(self.body)),
            ),
        }

    def environ(self, variant: str) -> dict:
        if variant == "poll-new":
            fields = environ(
                f"/api/v1/status/{self.new_jobs.popleft()}",
                HTTP_AUTHORIZATION=f"Bearer {self.api_key}",
            )
        else:
            fields = dict(self.environs[variant])
        if variant == "generate":
            self.count += 1
            fields["HTTP_IDEMPOTENCY_KEY"] = f"bench-{os.getpid()}-{self.count}"
            fields["wsgi.input"] = io.BytesIO(self.body)
        else:
            fields["wsgi.input"] = io.BytesIO()
        return fields

    def request(self, variant: str) -> tuple[str, bytes]:
        with self.settings_of(variant):
            status, _, body = send(self.app, self.environ(variant))
        self.made(variant, body)
        return status, body

    def made(self, variant: str, body: bytes) -> None:
        """Keep the job a generate made, for a ``poll-new``."""
        if variant == "generate":
            self.new_jobs.append(json.loads(body)["job_id"])

    @staticmethod
    @contextlib.contextmanager
    def settings_of(variant: str):
        """``poll-db``: the read model off for the length of the request (set directly, as
        ``override_settings`` would add its own cost to the timing)."""
        if variant != "poll-db":
            yield
            return
        from django.conf import settings

        kept = settings.JOBS_READ_MODEL_SECONDS
        settings.JOBS_READ_MODEL_SECONDS = 0
        try:
            yield
        finally:
            settings.JOBS_READ_MODEL_SECONDS = kept

    def time_rounds(self, rounds: int, into: dict) -> None:
        clock = time.perf_counter_ns

        def start_response(status, headers, exc_info=None):
            pass

        for turn in range(rounds):
            shift = turn % len(VARIANTS)
            for variant in VARIANTS[shift:] + VARIANTS[:shift]:
                environ = self.environ(variant)
                with self.settings_of(variant):
                    began = clock()
                    result = self.app(environ, start_response)
                    body = b"".join(result)
                    result.close()
                    into[variant].append(clock() - began)
                self.made(variant, body)


def statements(driver: Driver, variant: str) -> list[str]:
    """Return the SQL one warm request of ``variant`` runs (refuse to measure a failure)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    driver.request(variant)
    with CaptureQueriesContext(connection) as captured:
        status, body = driver.request(variant)
    if status[:3] not in ("200", "202"):
        raise SystemExit(f"{variant}: {status} {body[:300]!r}")
    return [q["sql"] for q in captured.captured_queries]


def _row(label: str, ping: float, poll: float, poll_db: float, gen: float, new: float) -> str:
    def ratio(over: float) -> str:
        return f"{(gen - ping) / (over - ping):.2f}" if over > ping else "nan"

    return (
        f"| {label} | {ping:.0f} | {poll:.0f} (+{poll - ping:.0f}) "
        f"| {poll_db:.0f} (+{poll_db - ping:.0f}) | {gen:.0f} (+{gen - ping:.0f}) "
        f"| {new:.0f} (+{new - ping:.0f}) | {ratio(poll)}, {ratio(poll_db)} |"
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=1000, help="requests per variant, round")
    parser.add_argument("--repeat", type=int, default=3, help="rounds")
    parser.add_argument("--label", default="", help="printed with the figures")
    args = parser.parse_args(argv)

    import logging

    logging.getLogger("django-q").setLevel(logging.WARNING)  # a line per enqueued job
    with throwaway_database():
        from bench.report import describe_backends

        driver = Driver(*make_generate_fixture())
        database, cache = describe_backends()
        print(f"{args.label or 'generate benchmark'}: {database}; cache {cache}")
        counts = {}
        for variant in ("poll", "poll-db", "generate", "poll-new"):
            sqls = statements(driver, variant)
            counts[variant] = len(sqls)
            print(f"\n{variant}: {len(sqls)} statements")
            for sql in sqls:
                print(f"  {sql[:160]}")
        driver.request("generate")  # one job ahead: a round may poll before it generates
        driver.time_rounds(100, {v: [] for v in VARIANTS})  # warm up
        medians = {v: [] for v in VARIANTS}
        for _ in range(args.repeat):
            timings = {v: [] for v in VARIANTS}
            driver.time_rounds(args.requests, timings)
            for v in VARIANTS:
                medians[v].append(statistics.median(timings[v]) / 1000)
        print(f"\nmedian µs per request, {args.repeat} rounds of {args.requests} of each")
        print(
            "| round | ping | poll, read model (added) | poll, database (added) "
            "| generate (added) | first poll of a new job (added) "
            "| generate added / poll added (read model, database) |"
        )
        print("|---|---|---|---|---|---|---|")
        for i in range(args.repeat):
            print(_row(str(i + 1), *(medians[v][i] for v in VARIANTS)))
        print(_row("median", *(statistics.median(medians[v]) for v in VARIANTS)))
        print(
            f"statements: poll {counts['poll']}, poll-db {counts['poll-db']}, "
            f"generate {counts['generate']}, poll-new {counts['poll-new']}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
