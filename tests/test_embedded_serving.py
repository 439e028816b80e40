"""The embedded default (no ``REDIS_URL``) served by ``gunicorn -c gunicorn.conf.py``: one
process, so that the limits counted in process memory hold for every request it serves."""

import sys
import time
import urllib.error
import urllib.request

from tests.processes import Program, free_port, manage, sqlite_env, wait_for

WAIT = 45
LIMIT = 5

SETUP = f"""
from accounts.audit import Actor
from apikeys.keys.services import apikey_create
from billing.services import organization_open
actor = Actor.system("test")
org = organization_open(name="Embedded", plan_code="business", credits=100, actor=actor)
_key, plaintext = apikey_create(
    organization=org, name="Embedded", actor=actor, rate_limit_per_minute={LIMIT}
)
print(plaintext)
"""


def get(url: str, headers: dict | None = None) -> int:
    request = urllib.request.Request(url, headers=headers or {})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def up(url: str) -> bool:
    try:
        return get(url) == 200
    except OSError:
        return False


def a_fresh_minute() -> None:
    """Wait, if need be, until a one-minute window has most of its time left."""
    if time.time() % 60 > 40:
        time.sleep(61 - time.time() % 60)


def test_the_default_configuration_without_redis_serves_one_process_and_holds_limits(
    tmp_path,
):
    env = {
        **sqlite_env(tmp_path / "embedded.sqlite3"),
        "APIKEYS_FAILED_AUTH_PER_MINUTE": str(LIMIT),
    }
    migrated = manage("migrate", "--noinput", "-v", "0", env=env, timeout=180)
    assert migrated.returncode == 0, migrated.stderr
    made = manage("shell", "-c", SETUP, env=env, timeout=60)
    assert made.returncode == 0, made.stderr
    plaintext = made.stdout.strip().splitlines()[-1]
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    # The default configuration, as an operator would start it, asking for four processes.
    serve_env = {**env, "GUNICORN_BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": "4"}
    args = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "perceptis.wsgi"]
    with Program(args, env=serve_env) as server:
        wait_for(lambda: up(f"{base}/healthz"), timeout=WAIT, what="gunicorn", program=server)
        started = server.output()  # the start, before the requests' log lines
        a_fresh_minute()
        own = [
            get(f"{base}/api/v1/models", {"Authorization": f"Bearer {plaintext}"})
            for _ in range(LIMIT + 5)
        ]
        wrong = plaintext[:-6] + "abcdef"  # well-formed, no such key
        failed = [
            get(f"{base}/api/v1/models", {"Authorization": f"Bearer {wrong}"})
            for _ in range(LIMIT + 5)
        ]

    assert "serving one worker process" in started
    assert started.count("Booting worker") == 1
    assert own == [200] * LIMIT + [429] * 5
    assert failed == [401] * LIMIT + [429] * 5


def _configuration(monkeypatch, **env) -> dict:
    import runpy
    from pathlib import Path

    for name in ("REDIS_URL", "WEB_CONCURRENCY", "GUNICORN_WORKER_CLASS", "GUNICORN_THREADS"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(Path(__file__).resolve().parent.parent / "gunicorn.conf.py"))


def test_with_redis_the_default_is_sync_workers_one_request_each(monkeypatch):
    served = _configuration(monkeypatch, REDIS_URL="redis://127.0.0.1:6379/0")
    # A sync worker given more than one thread would be made a gthread worker by gunicorn.
    assert (served["worker_class"], served["workers"], served["threads"]) == ("sync", 2, 1)
    assert _configuration(monkeypatch, REDIS_URL="redis://x", WEB_CONCURRENCY="4")["workers"] == 4


def test_without_redis_the_one_process_serves_with_threads(monkeypatch):
    served = _configuration(monkeypatch, WEB_CONCURRENCY="4")
    assert (served["worker_class"], served["workers"], served["threads"]) == ("gthread", 1, 8)


def test_an_operators_worker_class_and_threads_are_kept(monkeypatch):
    served = _configuration(
        monkeypatch, REDIS_URL="redis://x", GUNICORN_WORKER_CLASS="gthread", GUNICORN_THREADS="4"
    )
    assert (served["worker_class"], served["threads"]) == ("gthread", 4)
    assert (
        _configuration(monkeypatch, REDIS_URL="redis://x", GUNICORN_WORKER_CLASS="gthread")[
            "threads"
        ]
        == 8
    )
