"""The hot-path benchmark's printed report."""

import os
import platform
import statistics
from urllib.parse import urlsplit

from bench.variants import BASELINE, CONFIGS, PRODUCT, VARIANTS, WITH_BOTH, WITHOUT_BOTH, YARDSTICK


def describe_backends() -> tuple[str, str]:
    from django.conf import settings
    from django.db import connection

    db = settings.DATABASES["default"]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            version = cursor.fetchone()[0]
        database = f"PostgreSQL {version}, database {db['NAME']} on {db.get('HOST') or 'socket'}"
    else:
        import sqlite3

        database = f"SQLite {sqlite3.sqlite_version}, temporary file (WAL)"
    cache = settings.CACHES["default"]
    backend = cache["BACKEND"].rsplit(".", 1)[-1]
    if "LOCATION" in cache and "redis" in cache["BACKEND"]:
        parts = urlsplit(cache["LOCATION"])  # host, port and db only: never credentials
        backend = f"Redis ({backend}) on {parts.hostname}:{parts.port}{parts.path}"
    elif backend == "LocMemCache":
        backend = "local memory (LocMemCache)"
    return database, backend


def _ratio(medians: dict, variant: str = PRODUCT, yardstick: str = YARDSTICK) -> str:
    over = medians[yardstick] - medians[BASELINE]
    added = medians[variant] - medians[BASELINE]
    return f"{added / over:.2f}" if over > 0 else "n/a"


def report(
    timings: dict, queries: dict, requests: int, repeat: int, *, keys: int, filled: float
) -> str:
    import django
    import rest_framework

    database, cache = describe_backends()
    lines = [
        "Perceptis hot-path benchmark: GET /api/v1/status/{job_id}, in-process WSGI",
        f"database: {database}",
        f"cache:    {cache}",
        f"python {platform.python_version()}, Django {django.get_version()}, "
        f"DRF {rest_framework.VERSION}, {os.cpu_count()} CPUs; "
        f"{requests} requests x {repeat} repeats per variant, median of single requests",
        f"keys in the key table: {keys:,} ({filled:.1f} s to fill)",
        "(µs/request: wall-clock time; CPU µs: this process's CPU time, without the database "
        "server's)",
    ]

    def median_us(runs, which):
        return statistics.median(t[which] for run in runs for t in run) / 1000

    products = {}
    for config in CONFIGS:
        runs = {v.name: timings[config.name, v.name] for v in VARIANTS}
        wall = {name: median_us(r, 0) for name, r in runs.items()}
        cpu = {name: median_us(r, 1) for name, r in runs.items()}
        lines += [
            "",
            config.name,
            f"  {'variant':<11} {'':<29} {'queries':>7} {'µs/request':>11} {'over none':>10} "
            f"{'repeat medians':>16} {'CPU µs':>8} {'over none':>10}",
        ]
        for v in VARIANTS:
            per_run = [median_us([run], 0) for run in runs[v.name]]
            over = "" if v.name == BASELINE else f"{wall[v.name] - wall[BASELINE]:+.1f}"
            cpu_over = "" if v.name == BASELINE else f"{cpu[v.name] - cpu[BASELINE]:+.1f}"
            spread = f"{min(per_run):.0f}-{max(per_run):.0f}"
            lines.append(
                f"  {v.name:<11} {v.label:<29} {queries[config.name, v.name]:>7} "
                f"{wall[v.name]:>11.1f} "
                f"{over:>10} {spread:>16} {cpu[v.name]:>8.1f} {cpu_over:>10}"
            )
        for v in VARIANTS:
            if v.credential != "key":
                continue
            lines.append(
                f"  overhead {v.name} / overhead {YARDSTICK}: {_ratio(wall, v.name)} "
                f"(CPU time: {_ratio(cpu, v.name)})"
            )
        for v in VARIANTS:
            if v.database:
                lines.append(
                    f"  overhead {PRODUCT} / overhead {v.name}: {_ratio(wall, PRODUCT, v.name)} "
                    f"(CPU time: {_ratio(cpu, PRODUCT, v.name)})"
                )
        products[config.name] = (wall[PRODUCT], cpu[PRODUCT])
    on, off = products[WITH_BOTH], products[WITHOUT_BOTH]
    lines += [
        "",
        f"metering and rate limiting together add {100 * (on[0] - off[0]) / off[0]:+.1f}% to the "
        f"authenticated request ({off[0]:.1f} -> {on[0]:.1f} µs; CPU time "
        f"{100 * (on[1] - off[1]) / off[1]:+.1f}%)",
    ]
    return "\n".join(lines)
