#!/usr/bin/env python
"""Benchmark the API over HTTP: gunicorn with the production configuration, under load.

    python bench/http.py [--duration S] [--connections C] [--workers W]
                         [--env NAME=VALUE ...] [--compare NAME=VALUE ...]

It creates a throwaway database on whatever ``DATABASE_URL`` names (a temporary SQLite file
by default, ``<name>_http_bench`` on PostgreSQL), migrates it, creates an organization on a
plan without reachable limits, a key and a finished job, then starts
``gunicorn -c gunicorn.conf.py perceptis.wsgi`` with production settings (``DEBUG=False``,
TLS assumed from ``X-Forwarded-Proto`` as behind a proxy) and the cache ``REDIS_URL`` names
(local memory by default). Settings ``bench.http_settings`` add one view to the product's
URLs: ``/api/bench/ping``, an unauthenticated DRF view under the same middleware. It measures,
one after the other, requests per second and latency of:

- ``healthz``: ``GET /healthz``, the least a request through Django costs;
- ``ping``: the unauthenticated DRF view;
- ``status``: ``GET /api/v1/status/{job_id}`` of a finished job, with the key;
- ``generate``: ``POST /api/v1/generate`` (the jobs queue; no worker runs);
- ``gen-keys``: with ``--keys N`` (N > 1), the same with N keys of the organization in turn.

The load comes from ``wrk`` if it is installed, else from Python threads in this process.
``--env`` sets a variable in gunicorn's environment; ``--compare NAME=VALUE`` (repeatable)
measures twice, without and with those variables, and prints the ratios. ``--config
NAME:VAR=VALUE,VAR=VALUE`` (repeatable) names serving configurations to compare instead (the
worker class, processes and threads: ``GUNICORN_WORKER_CLASS``, ``WEB_CONCURRENCY``,
``GUNICORN_THREADS``), and ``CODE=DIR`` in one serves another checkout of the product (the
code before a change) on the same database, ``PYTHON=PATH`` with another interpreter (that
checkout's own packages); with ``--rounds`` they alternate round by round
and every round is printed, then the median round.
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Run as a script, this file's folder comes first on the path, where this file would shadow the
# standard library's ``http``: the repository root takes its place.
if sys.path and Path(sys.path[0]).resolve() == ROOT / "bench":
    sys.path[0] = str(ROOT)
elif str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import argparse  # noqa: E402
import os  # noqa: E402
import secrets  # noqa: E402
import tempfile  # noqa: E402
from urllib.parse import urlsplit, urlunsplit  # noqa: E402

from bench.load import Endpoint, Result, run_python, run_wrk, wrk_path  # noqa: E402
from bench.server import HOST, Server, send  # noqa: E402

# Production as the environment would configure it behind a TLS-terminating proxy.
PRODUCTION_ENV = {
    "DJANGO_SETTINGS_MODULE": "bench.http_settings",
    "DEBUG": "False",
    "SECRET_KEY": secrets.token_urlsafe(50),
    "API_KEY_PEPPER": secrets.token_urlsafe(32),
    "ALLOWED_HOSTS": f"{HOST},localhost",
    "USE_X_FORWARDED_PROTO": "True",
}


def _pair(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return name, value


def _config(text: str) -> tuple[str, dict]:
    name, sep, rest = text.partition(":")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME:VAR=VALUE,..., got {text!r}")
    return name, dict(_pair(item) for item in rest.split(",") if item)


def _database_url(name: str) -> str:
    """Return ``DATABASE_URL`` (or the SQLite default) with the database renamed ``name``."""
    url = os.environ.get("DATABASE_URL") or ""
    if not url or url.startswith("sqlite"):
        return f"sqlite:///{name}"  # an absolute path: four slashes
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def prepare_database(keys: int = 1) -> tuple[object, dict, str]:
    """Create and migrate the throwaway database; return its handle, the fixture and its URL."""
    import django

    django.setup()
    from django.db import connections
    from django.test.utils import setup_databases

    from bench.fixture import make_http_fixture  # Django must be set up first

    settings_dict = connections["default"].settings_dict
    if settings_dict["ENGINE"].endswith("sqlite3"):
        name = os.path.join(tempfile.gettempdir(), f"perceptis_http_bench_{os.getpid()}.sqlite3")
    else:
        name = f"{settings_dict['NAME']}_http_bench"
    settings_dict["TEST"]["NAME"] = name
    databases = setup_databases(verbosity=0, interactive=False, serialized_aliases=set())
    fixture = make_http_fixture(keys)
    connections.close_all()
    return databases, fixture, _database_url(settings_dict["NAME"])


def endpoints(fixture) -> list[Endpoint]:
    common = {"Host": HOST, "X-Forwarded-Proto": "https", "Accept": "application/json"}
    auth = {**common, "Authorization": f"Bearer {fixture.api_key}"}
    generate = {**auth, "Content-Type": "application/json"}
    return [
        Endpoint("healthz", "GET /healthz", "GET", "/healthz", common, b"", 200),
        Endpoint(
            "ping", "GET unauthenticated DRF view", "GET", "/api/bench/ping", common, b"", 200
        ),
        Endpoint(
            "status",
            "GET /api/v1/status/{id}",
            "GET",
            f"/api/v1/status/{fixture.job_id}",
            auth,
            b"",
            200,
        ),
        Endpoint(
            "generate",
            "POST /api/v1/generate",
            "POST",
            "/api/v1/generate",
            generate,
            b'{"prompt": "A lighthouse at dusk"}',
            202,
        ),
    ] + (
        [
            Endpoint(
                "gen-keys",
                f"POST /api/v1/generate, {1 + len(fixture.more_keys)} keys",
                "POST",
                "/api/v1/generate",
                generate,
                b'{"prompt": "A lighthouse at dusk"}',
                202,
                rotate=tuple(f"Bearer {key}" for key in [fixture.api_key, *fixture.more_keys]),
            )
        ]
        if fixture.more_keys
        else []
    )


def measure(env: dict, fixture, args) -> dict[str, Result]:
    """Start gunicorn with ``env``, check every endpoint answers as expected, load each in turn."""
    from bench.fixture import queued_jobs_finish

    env = dict(env)
    root = Path(env.pop("CODE", ROOT))
    python = env.pop("PYTHON", sys.executable)
    server = Server(env, args.workers, root, python)
    try:
        server.wait_ready()
        points = endpoints(fixture)
        for point in points:
            status, body = send(server.port, point.method, point.path, point.headers, point.body)
            if status != point.expect:
                raise SystemExit(f"{point.name}: {status} {body[:300]!r}\n{server.output()}")
        results = {}
        warm = min(1.0, args.duration)
        for point in points:
            if point.name.startswith("gen"):
                queued_jobs_finish()  # each generate run starts with as few jobs in flight
            for seconds in (warm, args.duration):  # the first run only warms the workers up
                if args.client == "wrk":
                    result = run_wrk(
                        f"http://{HOST}:{server.port}",
                        point,
                        duration=seconds,
                        connections=args.connections,
                    )
                else:
                    result = run_python(
                        HOST, server.port, point, duration=seconds, connections=args.connections
                    )
            results[point.name] = result
        return results
    finally:
        server.stop()


def _median_round(rounds: list[dict], points) -> dict:
    chosen = {}
    for point in points:
        ranked = sorted((r[point.name] for r in rounds), key=lambda result: result.per_second)
        chosen[point.name] = ranked[len(ranked) // 2]
    return chosen


def table(title: str, results: dict[str, Result], points: list[Endpoint]) -> list[str]:
    ping = results["ping"].per_second

    def ms(value):
        return "" if value is None else f"{value:.2f}"

    lines = [
        title,
        f"  {'endpoint':<9} {'':<30} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'unexpected':>10} {'/ ping':>7}",
    ]
    for point in points:
        r = results[point.name]
        lines.append(
            f"  {point.name:<9} {point.label:<30} {r.per_second:>9.1f} {ms(r.p50_ms):>8} "
            f"{ms(r.p99_ms):>8} {r.unexpected:>10} {r.per_second / ping:>7.2f}"
        )
    return lines


def describe(args) -> list[str]:
    # Scheme, host, port and database only: never credentials.
    database = urlsplit(os.environ.get("DATABASE_URL") or "sqlite:")
    if database.hostname:
        database_text = f"{database.scheme} on {database.hostname}:{database.port or ''}"
    else:
        database_text = f"{database.scheme}, a temporary file"
    cache = urlsplit(os.environ.get("REDIS_URL") or "")
    if cache.hostname:
        cache_text = f"Redis on {cache.hostname}:{cache.port or 6379}{cache.path}"
    else:
        cache_text = "local memory (one per worker)"
    return [
        "Perceptis HTTP benchmark: gunicorn -c gunicorn.conf.py perceptis.wsgi, production "
        "settings",
        f"database: {database_text} (a throwaway database)",
        f"cache:    {cache_text}",
        f"{args.workers} gunicorn workers, load from {args.client} with {args.connections} "
        f"connections, {args.duration:g} s per endpoint, {os.cpu_count()} CPUs",
    ]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=10, help="seconds per endpoint")
    parser.add_argument("--connections", type=int, default=16, help="concurrent connections")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument(
        "--env",
        type=_pair,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="set in gunicorn's environment (repeatable)",
    )
    parser.add_argument(
        "--compare",
        type=_pair,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="measure without and with these variables in gunicorn's environment (repeatable)",
    )
    parser.add_argument(
        "--config",
        type=_config,
        action="append",
        default=[],
        metavar="NAME:VAR=VALUE,...",
        help="a serving configuration to compare (repeatable; CODE=DIR serves another checkout)",
    )
    parser.add_argument(
        "--keys", type=int, default=1, help="also load generate with this many keys in turn"
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="with --compare: alternate the two runs this many times; the median round counts",
    )
    parser.add_argument(
        "--client",
        choices=["wrk", "python"],
        default="wrk" if wrk_path() else "python",
        help="load generator (default: wrk if installed)",
    )
    args = parser.parse_args(argv)
    if args.duration <= 0 or args.connections < 1 or args.workers < 1 or args.rounds < 1:
        parser.error("--duration, --connections, --workers and --rounds must be positive")

    os.environ.update(PRODUCTION_ENV)  # this process builds the data gunicorn will read
    from django.test.utils import teardown_databases

    databases, fixture, url = prepare_database(args.keys)
    try:
        env = {**PRODUCTION_ENV, "DATABASE_URL": url, **dict(args.env)}
        runs = [("requests per second", env)]
        if args.compare:
            before = " ".join(
                f"with {name}={env[name]}" if name in env else f"without {name}"
                for name, _ in args.compare
            )
            after = "with " + " ".join(f"{name}={value}" for name, value in args.compare)
            runs = [(before, env), (after, {**env, **dict(args.compare)})]
        if args.config:
            runs = [(name, {**env, **variables}) for name, variables in args.config]
        lines = describe(args)
        if args.env:
            lines.append("gunicorn environment: " + " ".join(f"{n}={v}" for n, v in args.env))
        points = endpoints(fixture)
        # Rounds alternate the runs (A B A B ...), so that drift on the machine falls on both;
        # per endpoint, the round with the median requests per second is reported.
        measured = [[] for _ in runs]
        for round_ in range(args.rounds):
            # Each round starts with the next configuration, so none always runs first.
            order = list(range(len(runs)))
            order = order[round_ % len(runs) :] + order[: round_ % len(runs)]
            for index in order:
                title, run_env = runs[index]
                measured[index].append(measure(run_env, fixture, args))
                if args.config and args.rounds > 1:
                    print(
                        "\n".join(
                            table(f"round {round_ + 1}: {title}", measured[index][-1], points)
                        ),
                        flush=True,
                    )
        results = [_median_round(rounds, points) for rounds in measured]
        if args.rounds > 1:
            lines.append(f"{args.rounds} alternating rounds; each figure is the median round's")
        for (title, _), result in zip(runs, results, strict=True):
            lines += ["", *table(title, result, points)]
        if args.compare:
            lines += ["", f"{runs[1][0]} / {runs[0][0]}, req/s:"]
            lines += [
                f"  {p.name:<9} {results[1][p.name].per_second / results[0][p.name].per_second:.2f}"
                for p in points
            ]
        print("\n".join(lines))
    finally:
        from django.db import connections

        connections.close_all()
        teardown_databases(databases, verbosity=0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
