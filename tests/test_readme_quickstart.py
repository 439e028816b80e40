"""The README's first command, minus the install: migrate, bootstrap the demo, serve with a
worker, submit a job over HTTP and poll it to success; the demo's credits pay for it."""

import json
import re
import sqlite3
import sys
import urllib.error
import urllib.request

from tests.processes import Program, free_port, manage, qcluster, sqlite_env, wait_for

WAIT = 45  # seconds; generous for a loaded machine, still bounded


def http(method: str, url: str, *, key: str | None = None, body: dict | None = None):
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers=headers, method=method)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, dict(response.headers), json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), json.loads(exc.read() or b"null")


def up(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310
            return response.status == 200
    except OSError:
        return False


def demo_balance(db_path) -> int:
    with sqlite3.connect(db_path) as db:
        (balance,) = db.execute(
            "SELECT a.balance FROM billing_creditaccount a "
            "JOIN accounts_organization o ON o.id = a.organization_id WHERE o.slug = 'demo'"
        ).fetchone()
    return balance


def test_readme_quickstart_serves_a_job_to_success(tmp_path):
    db_path = tmp_path / "quickstart.sqlite3"
    env = {**sqlite_env(db_path), "Q_POLL": "0.2", "LOG_LEVEL": "WARNING"}

    migrated = manage("migrate", "--noinput", "-v", "0", env=env, timeout=120)
    assert migrated.returncode == 0, migrated.stderr
    bootstrap = manage("bootstrap_demo", env=env)
    assert bootstrap.returncode == 0, bootstrap.stderr
    key = next(word for word in bootstrap.stdout.split() if word.startswith("sk-live-per-"))
    before = demo_balance(db_path)

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server_args = [sys.executable, "-m", "gunicorn", "perceptis.wsgi"]
    server_args += ["--bind", f"127.0.0.1:{port}", "--workers", "1", "--threads", "4"]
    with Program(server_args, env=env) as server, qcluster(env) as worker:
        wait_for(lambda: up(f"{base}/healthz"), timeout=WAIT, what="gunicorn", program=server)

        status, headers, job = http(
            "POST", f"{base}/api/v1/generate", key=key, body={"prompt": "hello from the readme"}
        )
        assert status == 202, job
        assert headers["Location"] == f"/api/v1/status/{job['job_id']}"

        def finished():
            _status, _headers, body = http("GET", base + headers["Location"], key=key)
            return body if body["status"] in ("succeeded", "failed", "canceled") else None

        done = wait_for(finished, timeout=WAIT, what="the job to finish", program=worker)

    assert done["status"] == "succeeded", done
    assert done["result"]["text"].startswith("Generated")
    assert done["credits_charged"] >= 1
    assert demo_balance(db_path) == before - done["credits_charged"]


def test_readme_commands_run_as_written_with_the_virtualenv():
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    blocks = "\n".join(readme.split("```")[1::2])
    bare = [line for line in blocks.splitlines() if re.search(r"(?<!/)\bpython manage\.py", line)]
    assert bare == []
    assert "collectstatic" in blocks and "HOST=" in readme and "PORT=" in readme
