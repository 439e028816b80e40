"""Production serving: gunicorn started with ``gunicorn.conf.py`` writes no key in its access or
error log, whatever the client puts in the path, the query, headers or a broken request."""

import socket
import sys
import urllib.error
import urllib.request

from apikeys.keys import format as keys
from tests.processes import Program, free_port, manage, sqlite_env, wait_for

WAIT = 45


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


def raw(port: int, data: bytes) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        while sock.recv(4096):
            pass


def test_gunicorn_logs_hold_no_key(tmp_path):
    env = {**sqlite_env(tmp_path / "serve.sqlite3"), "LOG_LEVEL": "DEBUG"}
    migrated = manage("migrate", "--noinput", "-v", "0", env=env, timeout=120)
    assert migrated.returncode == 0, migrated.stderr

    key = keys.generate("live")
    short = key[:30]  # cut short: its checksum no longer matches
    secrets = [key[len("sk-live-per-") :][:12], short[len("sk-live-per-") :]]
    access, errors = tmp_path / "access.log", tmp_path / "error.log"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    serve_env = {
        **env,
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "1",
        "GUNICORN_ACCESS_LOG": str(access),
        "GUNICORN_ERROR_LOG": str(errors),
        "GUNICORN_LOG_LEVEL": "debug",
    }
    args = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "perceptis.wsgi"]
    with Program(args, env=serve_env) as server:
        wait_for(lambda: up(f"{base}/healthz"), timeout=WAIT, what="gunicorn", program=server)
        assert get(f"{base}/api/v1/status/{key}") == 401
        assert get(f"{base}/api/v1/status/{short}") == 401
        assert get(f"{base}/api/v1/keys?cursor={key}&x={short}") == 401
        assert get(f"{base}/api/v1/status/job_x", {"Authorization": f"Bearer {key}"}) == 401
        get(f"{base}/api/v1/usage", {"Referer": f"https://x.example/?k={key}", "User-Agent": key})
        get(f"{base}/api/v1/status/x%0a{key}")
        raw(port, f"GET /api/v1/status/{key} HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n".encode())
        raw(port, f"GET /{key} HTTP/9.9\r\n\r\n".encode())
        raw(port, f"BROKEN {key}\r\n\r\n".encode())
        wait_for(
            lambda: access.exists() and access.read_text().count("\n") >= 6,
            timeout=10,
            what="the access log",
            program=server,
        )
        output = server.output()
    logged = access.read_text() + errors.read_text() + output
    assert "/api/v1/status/" in logged  # the requests were logged
    assert "sk-live-per-[redacted]" in logged
    for secret in secrets:
        assert secret not in logged
    assert "\nsk-" not in logged  # a %0a in the URL started no line of its own
