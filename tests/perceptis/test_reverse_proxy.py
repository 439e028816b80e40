"""The shipped nginx configuration (``deploy/nginx.conf``) in front of gunicorn started with
``gunicorn.conf.py``: every request under /api/v1/ that would be refused before Django (a
control character in a header, a huge request line or header, a broken request line) gets a
JSON error with a stable code, and Django's own answers pass through untouched."""

import json
import shutil
import socket
import sys
from pathlib import Path

import pytest

from tests.processes import ROOT, Program, free_port, manage, sqlite_env, wait_for

NGINX = shutil.which("nginx") or next(
    (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if Path(p).exists()), None
)
pytestmark = pytest.mark.skipif(NGINX is None, reason="needs nginx (CI installs it)")


def _raw(port: int, data: bytes) -> tuple[int, str, bytes]:
    """Send ``data`` as is; return the status, the Content-Type and the body."""
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        sock.sendall(data)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
    return int(lines[0].split()[1]), headers.get("Content-Type", ""), body


def _get(path: str, *headers: str) -> bytes:
    lines = [f"GET {path} HTTP/1.1", "Host: 127.0.0.1", *headers, "Connection: close"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _answers(port: int) -> bool:
    try:
        return _raw(port, _get("/healthz"))[0] == 200
    except OSError:
        return False


@pytest.fixture(scope="module")
def proxied(tmp_path_factory):
    """Return (nginx's port, gunicorn's port), both running for this module."""
    tmp = tmp_path_factory.mktemp("proxy")
    env = sqlite_env(tmp / "db.sqlite3")
    assert manage("migrate", "--noinput", "-v", "0", env=env, timeout=120).returncode == 0
    app_port, proxy_port = free_port(), free_port()
    site = (ROOT / "deploy" / "nginx.conf").read_text()
    site = site.replace("server 127.0.0.1:8000;", f"server 127.0.0.1:{app_port};")
    site = site.replace("listen 80;", f"listen 127.0.0.1:{proxy_port};")
    (tmp / "site.conf").write_text(site)
    temp_paths = " ".join(
        f"{name}_temp_path {tmp / name};" for name in ("client_body", "proxy", "fastcgi", "uwsgi")
    )
    (tmp / "nginx.conf").write_text(
        f"worker_processes 1; pid {tmp / 'nginx.pid'}; error_log {tmp / 'error.log'};\n"
        "events { worker_connections 64; }\n"
        f"http {{ access_log {tmp / 'access.log'}; {temp_paths} scgi_temp_path {tmp / 'scgi'};\n"
        f"include {tmp / 'site.conf'}; }}\n"
    )
    gunicorn = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "perceptis.wsgi"]
    serve_env = {**env, "GUNICORN_BIND": f"127.0.0.1:{app_port}", "WEB_CONCURRENCY": "1"}
    nginx = [NGINX, "-p", str(tmp), "-c", str(tmp / "nginx.conf"), "-g", "daemon off;"]
    with Program(gunicorn, env=serve_env) as app, Program(nginx, env={}) as proxy:
        wait_for(lambda: _answers(app_port), timeout=45, what="gunicorn", program=app)
        wait_for(lambda: _answers(proxy_port), timeout=20, what="nginx", program=proxy)
        yield proxy_port, app_port


# (the attacker's request, the status, the stable code) under /api/v1/
MALFORMED = [
    (
        _get("/api/v1/status/job_x", "Authorization: Bearer sk-live-per-a\x01b"),
        400,
        "malformed_request",
    ),
    (_get("/api/v1/status/job_x", "Idempotency-Key: a\x02b"), 400, "malformed_request"),
    (_get("/api/v1/status/job_x", "User-Agent: curl\x7f"), 400, "malformed_request"),
    (_get("/api/v1/status/" + "a" * 9000), 414, "uri_too_long"),
    (_get("/api/v1/status/job_x", "X-Padding: " + "a" * 9000), 431, "header_too_large"),
    (_get("/api/v1/status/job_x", "Authorization: Bearer " + "a" * 9000), 431, "header_too_large"),
    (b"BROKEN /api/v1/status HTTP/1.1\r\n\r\n", 400, "malformed_request"),
    (
        b"GET /api/v1/status/job_x HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n",
        400,
        "malformed_request",
    ),
    (b"GET /api/v1/status/job_x HTTP/9.9\r\nHost: x\r\n\r\n", 505, "http_version_not_supported"),
]


@pytest.mark.parametrize(("request_bytes", "status", "code"), MALFORMED)
def test_refused_requests_under_the_api_get_json_with_a_stable_code(
    proxied, request_bytes, status, code
):
    proxy_port, app_port = proxied
    answered, content_type, body = _raw(proxy_port, request_bytes)
    assert (answered, content_type) == (status, "application/json")
    error = json.loads(body)["error"]
    assert error["code"] == code and error["request_id"].startswith("req_")
    assert b"<html" not in body and b"sk-live" not in body


def test_without_the_proxy_gunicorn_answers_those_with_html(proxied):
    """Why the proxy is needed: the same request straight to gunicorn."""
    _, app_port = proxied
    status, content_type, _ = _raw(app_port, MALFORMED[0][0])
    assert (status, content_type) == (400, "text/html")


def test_a_malformed_header_the_api_does_not_read_is_dropped_not_refused(proxied):
    proxy_port, _ = proxied
    status, content_type, body = _raw(proxy_port, _get("/api/v1/status/job_x", "X-Foo: a\x01b"))
    assert (status, content_type) == (401, "application/json")
    assert json.loads(body)["error"]["code"] == "missing_api_key"


def test_djangos_answers_pass_through_untouched(proxied):
    proxy_port, _ = proxied
    status, _, body = _raw(proxy_port, _get("/api/v1/" + "a" * 5000))
    assert status == 404 and json.loads(body)["error"]["code"] == "not_found"
    post = (
        b"POST /api/v1/generate HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer x\r\n"
        b"Content-Type: application/json\r\nContent-Length: 1\r\nConnection: close\r\n\r\n{"
    )
    status, content_type, body = _raw(proxy_port, post)
    assert (status, content_type) == (401, "application/json")
    assert json.loads(body)["error"]["code"] == "invalid_api_key"
