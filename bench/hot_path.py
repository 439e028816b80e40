#!/usr/bin/env python
"""Benchmark the API's hot path: an authenticated ``GET /api/v1/status/{job_id}``.

    python bench/hot_path.py [--requests N] [--repeat R] [--keys N]

It measures the same status view several ways, through Django's full WSGI handler (middleware,
URL routing, DRF, rendering) in this process:

- ``none``: no authentication and no permission check;
- ``drf-token``: DRF's ``TokenAuthentication`` and ``IsAuthenticated``;
- ``perceptis``: the product's view, behind the key pipeline (key check, IP allowlist, plan,
  permission, rate limit and its headers);
- ``orm``: the same pipeline with the key row fetched by ordinary ORM code
  (``bench.authentication``), to show what the product's hand-built lookup is worth; on
  PostgreSQL also ``orm-ssb`` and ``orm-prep``, the ORM lookup on a connection with Django's
  ``server_side_binding`` option, without and with psycopg's automatic prepared statements.

``--keys N`` fills the key table with N keys first (``bench.keys``), to show that the lookup
costs the same with ten thousand keys as with a million.

Each setting configuration in ``CONFIGS`` (rate limiting on and off) is measured in the same
run. Variants alternate request by request and configurations every few dozen requests, so
that drift (CPU frequency, other load) falls on all of them alike; the median time of single
requests is reported.

It runs on whatever ``DATABASE_URL`` and ``REDIS_URL`` name (SQLite and local memory by
default), in a throwaway database it creates and drops: a temporary file for SQLite,
``<name>_bench`` on PostgreSQL.
"""

import argparse
import io
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Run as a script, this file's folder comes first on the path, where ``bench/http.py`` would
# shadow the standard library's ``http``: the repository root takes its place.
if sys.path and Path(sys.path[0]).resolve() == ROOT / "bench":
    sys.path[0] = str(ROOT)
elif str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"

from bench import inprocess  # noqa: E402
from bench.fixture import Fixture, make_fixture  # noqa: E402
from bench.keys import keys_fill  # noqa: E402
from bench.report import report  # noqa: E402
from bench.variants import CONFIGS, VARIANTS  # noqa: E402

# Rounds of requests run under one configuration before switching to the next.
BLOCK = 50


class Driver:
    """Send requests to Django's WSGI handler as a WSGI server would, and time them."""

    def __init__(self, fixture: Fixture):
        from django.core.handlers.wsgi import WSGIHandler

        self.app = WSGIHandler()
        self.environs_of = {
            "finished": self._environs(fixture, fixture.job_id),
            "running": self._environs(fixture, fixture.running_job_id),
        }
        self.environs = self.environs_of["finished"]

    def poll(self, job: str) -> None:
        """Poll the ``finished`` or the ``running`` job from now on."""
        self.environs = self.environs_of[job]

    @staticmethod
    def _environs(fixture: Fixture, job_id: str) -> dict:
        environs = {}
        for variant in VARIANTS:
            environ = inprocess.environ(variant.path.format(job_id=job_id))
            if variant.credential == "token":
                environ["HTTP_AUTHORIZATION"] = f"Token {fixture.token}"
            elif variant.credential == "key":
                environ["HTTP_AUTHORIZATION"] = f"Bearer {fixture.api_key}"
            environs[variant.name] = environ
        return environs

    def request(self, variant: str) -> tuple[str, dict, bytes]:
        """Send one request; return the status line, the headers and the body."""
        environ = dict(self.environs[variant], **{"wsgi.input": io.BytesIO()})
        return inprocess.send(self.app, environ)

    def time_rounds(self, variants: list[str], rounds: int, into: dict[str, list]) -> None:
        """Send ``rounds`` requests of each variant, alternating them request by request.

        Append each request's (wall, CPU) time in nanoseconds to ``into[variant]``; CPU time
        is this thread's, so it leaves out the database server and waits for the processor.
        """
        app = self.app
        clock, cpu_clock = time.perf_counter_ns, time.thread_time_ns
        environs = [(self.environs[name], into[name]) for name in variants]

        def start_response(status, headers, exc_info=None):
            pass

        for _ in range(rounds):
            for environ, timings in environs:
                env = dict(environ, **{"wsgi.input": io.BytesIO()})
                began, cpu_began = clock(), cpu_clock()
                result = app(env, start_response)
                b"".join(result)
                result.close()
                timings.append((clock() - began, cpu_clock() - cpu_began))


def check(driver: Driver) -> dict[tuple[str, str], int]:
    """Refuse to measure unless every variant answers 200 with the same body.

    Return the number of queries each variant makes once warm, per configuration.
    """
    from contextlib import ExitStack

    from django.db import connections
    from django.test.utils import CaptureQueriesContext, override_settings

    queries = {}
    for config in CONFIGS:
        bodies = {}
        driver.poll(config.job)
        with override_settings(**config.settings):
            for variant in VARIANTS:
                driver.request(variant.name)  # the first request may write the key's last use
                with ExitStack() as stack:
                    captures = [
                        stack.enter_context(CaptureQueriesContext(c)) for c in connections.all()
                    ]
                    status, headers, body = driver.request(variant.name)
                if not status.startswith("200"):
                    raise SystemExit(f"{variant.name}: {status} {body[:300]!r}")
                limited = config.settings.get("APIKEYS_RATE_LIMITS_ENABLED", True)
                if variant.credential == "key" and limited and "RateLimit-Limit" not in headers:
                    raise SystemExit(f"{variant.name}: no RateLimit-Limit header")
                bodies[variant.name] = body
                queries[config.name, variant.name] = len(
                    [
                        q
                        for captured in captures
                        for q in captured.captured_queries
                        if q["sql"].split()[0].upper() != "SET"
                    ]
                )
        if len(set(bodies.values())) != 1:
            raise SystemExit(f"the variants answer different bodies: {bodies}")
    return queries


def measure(driver: Driver, requests: int, repeat: int) -> dict:
    """Return ``{(config, variant): [one list of (wall, CPU) nanoseconds per repeat]}``.

    Variants alternate request by request, and configurations every ``BLOCK`` rounds, so that
    load from elsewhere on the machine falls on all of them alike.
    """
    from django.test.utils import override_settings

    names = [v.name for v in VARIANTS]
    timings = {(c.name, v.name): [] for c in CONFIGS for v in VARIANTS}
    for config in CONFIGS:  # warm up
        driver.poll(config.job)
        with override_settings(**config.settings):
            driver.time_rounds(names, max(1, min(requests, 100)), {n: [] for n in names})
    for round_ in range(repeat):
        runs = {(c.name, n): [] for c in CONFIGS for n in names}
        for block, start in enumerate(range(0, requests, BLOCK)):
            shift = (round_ + block) % len(CONFIGS)
            for config in CONFIGS[shift:] + CONFIGS[:shift]:
                driver.poll(config.job)
                with override_settings(**config.settings):
                    turn = (round_ + block) % len(names)
                    driver.time_rounds(
                        names[turn:] + names[:turn],
                        min(BLOCK, requests - start),
                        {n: runs[config.name, n] for n in names},
                    )
        for key, run in runs.items():
            timings[key].append(run)
    return timings


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--requests", type=int, default=2000, help="requests per variant and repeat"
    )
    parser.add_argument("--repeat", type=int, default=5, help="interleaved rounds")
    parser.add_argument(
        "--keys", type=int, default=0, help="fill the key table with this many keys first"
    )
    args = parser.parse_args(argv)
    if args.requests < 1 or args.repeat < 1:
        parser.error("--requests and --repeat must be at least 1")
    if args.keys < 0:
        parser.error("--keys must not be negative")

    with inprocess.throwaway_database():
        fixture = make_fixture()
        began = time.monotonic()
        keys = keys_fill(args.keys)
        filled = time.monotonic() - began
        driver = Driver(fixture)
        queries = check(driver)
        timings = measure(driver, args.requests, args.repeat)
        print(report(timings, queries, args.requests, args.repeat, keys=keys, filled=filled))
    return 0


if __name__ == "__main__":
    sys.exit(main())
