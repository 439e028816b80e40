"""Production settings: the deploy check passes, a real server runs, and bad config refuses."""

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from tests.helpers import settings_loaded

# Everything the project reads from the environment; each test states the ones it sets.
_PROJECT_VARS = {
    "DEBUG",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "API_KEY_PEPPER",
    "REDIS_URL",
    "DATABASE_URL",
    "SECURE_SSL_REDIRECT",
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "SECURE_HSTS_SECONDS",
    "PERCEPTIS_ENVIRONMENT",
    "DJANGO_SETTINGS_MODULE",
}
BOUND = 60  # seconds: the longest any step may take


def _env(**values) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in _PROJECT_VARS}
    env["DJANGO_SETTINGS_MODULE"] = "perceptis.settings"
    env["PYTHONUNBUFFERED"] = "1"
    env.update(values)
    return env


def _manage(*args, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=BOUND,
    )


def _secret() -> str:
    return secrets.token_urlsafe(50)


def test_deploy_check_passes_with_production_environment():
    env = _env(
        DEBUG="False",
        SECRET_KEY=_secret(),
        ALLOWED_HOSTS="api.perceptis.example",
        API_KEY_PEPPER=_secret(),
        REDIS_URL="redis://127.0.0.1:6379/0",
        DATABASE_URL="postgres://perceptis@db.internal:5432/perceptis",
    )
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert result.returncode == 0, result.stdout + result.stderr


def test_deploy_check_warns_about_a_process_local_cache():
    env = _env(
        DEBUG="False",
        SECRET_KEY=_secret(),
        ALLOWED_HOSTS="api.perceptis.example",
        API_KEY_PEPPER=_secret(),
        DATABASE_URL="postgres://perceptis@db.internal:5432/perceptis",
    )
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert result.returncode != 0
    assert "perceptis.W001" in result.stderr + result.stdout


def test_settings_refuse_to_start_without_secret_key_when_debug_is_off():
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=settings.BASE_DIR,
        env=_env(DEBUG="False"),
        capture_output=True,
        text=True,
        timeout=BOUND,
    )
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "SECRET_KEY" in result.stderr


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _request(url: str, *, data: bytes | None = None, headers: dict | None = None):
    request = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


@pytest.fixture
def production_server(tmp_path):
    """Serve the project with gunicorn, DEBUG off, on a migrated temporary SQLite database.

    Yield ``(base_url, plaintext_key)``; the server is always killed.
    """
    env = _env(
        DEBUG="False",
        SECRET_KEY=_secret(),
        API_KEY_PEPPER=_secret(),
        ALLOWED_HOSTS="127.0.0.1",
        SECURE_SSL_REDIRECT="False",
        SESSION_COOKIE_SECURE="False",
        CSRF_COOKIE_SECURE="False",
        DATABASE_URL=f"sqlite:///{tmp_path / 'prod.sqlite3'}",
    )
    for args in (("migrate", "--noinput"),):
        result = _manage(*args, env=env)
        assert result.returncode == 0, result.stderr
    made = _manage("create_org", "Prod Co", "--plan", "business", "--credits", "5", env=env)
    assert made.returncode == 0, made.stderr
    key = _manage("create_api_key", "--org", made.stdout.strip(), "--name", "e2e", env=env)
    assert key.returncode == 0, key.stderr
    plaintext = key.stdout.strip()

    port = _free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "perceptis.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--timeout",
            "30",
        ],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + BOUND
        while True:
            assert server.poll() is None, server.stdout.read().decode(errors="replace")
            try:
                if _request(f"{base}/healthz")[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "the server did not answer /healthz in time"
            time.sleep(0.2)
        yield base, plaintext
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait(timeout=10)
        server.stdout.close()


def test_production_server_answers_health_and_an_authenticated_request(production_server):
    base, plaintext = production_server
    status, _, body = _request(f"{base}/healthz")
    assert (status, body) == (200, b"ok")

    status, headers, body = _request(
        f"{base}/api/v1/generate",
        data=json.dumps({"prompt": "hello"}).encode(),
        headers={"Authorization": f"Bearer {plaintext}", "Content-Type": "application/json"},
    )
    assert status == 202, body
    job = json.loads(body)
    assert headers["Location"] == f"/api/v1/status/{job['job_id']}"
    assert headers["X-Request-ID"]
    assert headers["RateLimit-Limit"]

    status, _, body = _request(
        f"{base}{headers['Location']}", headers={"Authorization": f"Bearer {plaintext}"}
    )
    assert status == 200, body
    assert json.loads(body)["job_id"] == job["job_id"]

    status, headers, body = _request(f"{base}/api/v1/status/{job['job_id']}")
    assert status == 401
    assert json.loads(body)["error"]["code"] == "missing_api_key"
    assert headers["WWW-Authenticate"].startswith("Bearer")


def test_deploy_check_warns_without_an_api_key_pepper():
    env = _env(
        DEBUG="False",
        SECRET_KEY=_secret(),
        ALLOWED_HOSTS="api.perceptis.example",
        REDIS_URL="redis://127.0.0.1:6379/0",
        DATABASE_URL="postgres://perceptis@db.internal:5432/perceptis",
    )
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert result.returncode != 0
    assert "perceptis.W002" in result.stderr + result.stdout


def test_redis_cluster_is_off_by_default_and_a_cluster_client_when_set():
    single = settings_loaded(REDIS_URL="redis://127.0.0.1:6379/0")
    assert single.REDIS_CLUSTER is False
    assert "CONNECTION_FACTORY" not in single.CACHES["default"]["OPTIONS"]
    cluster = settings_loaded(REDIS_URL="redis://127.0.0.1:7000/0", REDIS_CLUSTER="True")
    assert cluster.REDIS_CLUSTER is True
    assert cluster.CACHES["default"]["OPTIONS"]["CONNECTION_FACTORY"] == (
        "perceptis.pagecache.ClusterConnectionFactory"
    )


def test_the_redis_broker_is_refused_on_a_cluster():
    with pytest.raises(ImproperlyConfigured, match="REDIS_CLUSTER"):
        settings_loaded(
            REDIS_URL="redis://127.0.0.1:7000/0", REDIS_CLUSTER="True", Q_USE_REDIS_BROKER="True"
        )
