"""The benchmark scripts still run and print their tables (no timings are judged here)."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str, timeout: float = 180) -> str:
    completed = subprocess.run(
        [sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )
    assert completed.returncode == 0, completed.stdout[-2000:] + completed.stderr[-3000:]
    return completed.stdout


def test_hot_path_benchmark_prints_its_table():
    out = _run("bench/hot_path.py", "--requests", "3", "--repeat", "1", "--keys", "2000")

    assert "database:" in out and "cache:" in out
    assert "keys in the key table: 2,000" in out
    from bench.variants import CONFIGS

    for config in CONFIGS:
        assert config.name in out
    for variant in ("none", "drf-token", "perceptis", "orm"):
        assert f"  {variant} " in out
    configs = len(CONFIGS)
    assert out.count("overhead perceptis / overhead drf-token:") == configs
    assert out.count("overhead orm / overhead drf-token:") == configs
    assert out.count("overhead perceptis / overhead orm:") == configs
    if "PostgreSQL" in out:
        assert out.count("overhead perceptis / overhead orm-ssb:") == configs
        assert out.count("overhead perceptis / overhead orm-prep:") == configs
    assert "metering and rate limiting together add" in out


def _rows(out: str) -> dict[str, str]:
    return dict(re.findall(r"^  (healthz|ping|status|generate) +(.*)$", out, re.M))


def test_http_benchmark_compares_a_setting_in_one_run():
    out = _run(
        "bench/http.py",
        *("--duration", "0.5", "--connections", "2", "--workers", "1", "--client", "python"),
        *("--env", "GUNICORN_THREADS=2", "--compare", "DATABASE_PREPARED_STATEMENTS=False"),
    )

    assert "gunicorn environment: GUNICORN_THREADS=2" in out
    assert "with DATABASE_PREPARED_STATEMENTS=False" in out
    assert (
        "with DATABASE_PREPARED_STATEMENTS=False / without DATABASE_PREPARED_STATEMENTS, req/s:"
        in out
    )
    tables = out.split("\n\n")
    for table in tables[1:3]:
        rows = _rows(table)
        assert set(rows) == {"healthz", "ping", "status", "generate"}, table
        for name, row in rows.items():
            # req/s, p50, p99, unexpected answers (none: every request was answered as
            # expected), and the ratio to the unauthenticated view
            assert row.split()[-2] == "0", (name, row)
        assert rows["ping"].split()[-1] == "1.00"


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed")
def test_http_benchmark_runs_under_wrk():
    out = _run("bench/http.py", "--duration", "1", "--connections", "2", "--workers", "1")

    assert "load from wrk" in out
    rows = _rows(out)
    assert set(rows) == {"healthz", "ping", "status", "generate"}, out
    assert all(row.split()[-2] == "0" for row in rows.values()), out


def test_generate_benchmark_prints_the_statements_and_the_ratio():
    out = _run("bench/generate.py", "--requests", "3", "--repeat", "1")

    for variant in ("poll", "poll-db", "generate", "poll-new"):
        assert re.search(rf"^{variant}: \d+ statements$", out, re.M), out
    # ping, both polls, the generate and a new job's first poll with their added times, then
    # both ratios
    assert re.search(
        r"^\| median \| \d+ \| \d+ \(\+-?\d+\) \| \d+ \(\+-?\d+\) \| \d+ \(\+-?\d+\) "
        r"\| \d+ \(\+-?\d+\) \| (-?[\d.]+|nan), (-?[\d.]+|nan) \|$",
        out,
        re.M,
    ), out
    assert re.search(
        r"^statements: poll \d+, poll-db \d+, generate \d+, poll-new \d+$", out, re.M
    ), out


def test_costs_benchmark_prints_each_request():
    out = _run(
        "bench/costs.py",
        "--jobs",
        "500",
        "--keys",
        "3",
        "--requests",
        "1",
        "--repeat",
        "1",
        "--live-requests",
        "1",
    )

    assert "500 jobs and their ledger rows generated" in out
    for request in ("ping", "usage", "costs-day", "costs-hour", "costs-day-live"):
        assert re.search(rf"^\| {request} \| \d+ \|", out, re.M), out
