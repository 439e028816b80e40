"""Production serving: gunicorn started with ``gunicorn.conf.py`` writes no key in its access or
error log, whatever the client puts in the path, the query, headers or a broken request."""

import http.cookiejar
import re
import socket
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from apikeys.keys import keyformat
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

    key = keyformat.generate("live")
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


class Browser:
    """A cookie-keeping HTTP client that does not follow redirects (each one is checked)."""

    class _NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    def __init__(self, base: str):
        self.base = base
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.cookies), self._NoRedirect()
        )

    def request(self, path: str, data: dict | None = None) -> tuple[int, str, str]:
        """Return the status, the Location and the body of one request (POST with ``data``)."""
        body = None
        if data is not None:
            csrf = next(c.value for c in self.cookies if c.name == "csrftoken")
            body = urllib.parse.urlencode({"csrfmiddlewaretoken": csrf, **data}).encode()
        try:
            with self.opener.open(self.base + path, data=body, timeout=20) as response:
                return response.status, "", response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.headers.get("Location", ""), exc.read().decode()


def _last_link(mail_dir: Path, pattern: str) -> str:
    texts = [p.read_text() for p in sorted(mail_dir.iterdir(), key=lambda p: p.stat().st_mtime)]
    return re.search(pattern, texts[-1]).group(1)


def test_a_password_reset_and_an_invitation_leave_no_token_in_any_log(tmp_path):
    """The whole flow over real HTTP against gunicorn with gunicorn.conf.py and JSON logs at
    DEBUG: the reset key and the invitation token appear in no line of the access log, the
    error log or Django's log, including the 4xx warnings for replayed and mangled links."""
    mail_dir = tmp_path / "mail"
    env = {
        **sqlite_env(tmp_path / "serve.sqlite3"),
        "LOG_LEVEL": "DEBUG",
        "LOG_FORMAT": "json",
        "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "EMAIL_FILE_PATH": str(mail_dir),
    }
    assert manage("migrate", "--noinput", "-v", "0", env=env, timeout=120).returncode == 0
    assert manage("bootstrap_demo", env=env).returncode == 0
    made = manage(
        *("create_user", "--org", "demo", "--email", "owner@example.com"),
        *("--password", "an-old-long-passphrase-1", "--role", "owner"),
        env=env,
    )
    assert made.returncode == 0, made.stderr
    access, errors = tmp_path / "access.log", tmp_path / "error.log"
    port = free_port()
    serve_env = {
        **env,
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "1",
        "GUNICORN_ACCESS_LOG": str(access),
        "GUNICORN_ERROR_LOG": str(errors),
        "GUNICORN_LOG_LEVEL": "debug",
    }
    base = f"http://127.0.0.1:{port}"
    args = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "perceptis.wsgi"]
    with Program(args, env=serve_env) as server:
        wait_for(lambda: up(f"{base}/healthz"), timeout=WAIT, what="gunicorn", program=server)

        # A password reset, link followed and a new password set.
        person = Browser(base)
        assert person.request("/accounts/password/reset/")[0] == 200
        status, _, _ = person.request("/accounts/password/reset/", {"email": "owner@example.com"})
        assert status == 302
        link = _last_link(mail_dir, r"https?://[^/\s]+(/accounts/password/reset/key/\S+/)")
        reset_key = link.rstrip("/").rsplit("/", 1)[1].split("-", 1)[1]
        status, form_url, _ = person.request(link)
        assert status == 302 and "set-password" in form_url and reset_key not in form_url
        assert person.request(form_url)[0] == 200
        new = "a-brand-new-long-passphrase-7"
        assert person.request(form_url, {"password1": new, "password2": new})[0] == 302
        # The attacker's replays: the used link, and the link mangled.
        assert "This link no longer works" in Browser(base).request(link)[2]
        assert Browser(base).request(link + "x/")[0] in (200, 404)

        # An invitation, followed by a new person who sets a password.
        invited = manage(
            "shell",
            "-c",
            "from accounts.audit import Actor; from accounts.models import Organization, User; "
            "from accounts.members.services import invitation_create; "
            "invitation_create(organization=Organization.objects.get(slug='demo'), "
            "email='ana@example.com', role='admin', "
            "actor=Actor(user=User.objects.get(email='owner@example.com')), "
            f"base_url='{base}/')",
            env=env,
        )
        assert invited.returncode == 0, invited.stderr
        link = _last_link(mail_dir, r"https?://[^/\s]+(/accounts/invitation/\S+/)")
        token = link.rstrip("/").rsplit("/", 1)[1]
        ana = Browser(base)
        status, page, _ = ana.request(link)
        assert (status, page) == (302, "/accounts/invitation/")
        assert ana.request(page)[0] == 200
        data = {"full_name": "Ana", "password1": new, "password2": new}
        assert ana.request(page, data) == (302, "/settings/developer/", "")
        assert Browser(base).request(link)[0] == 410  # used: Django logs the path, 4xx
        assert Browser(base).request(f"{link}extra/")[0] == 404
        assert Browser(base).request(f"/?token={token}&nonce={token}")[0] in (200, 302)

        wait_for(
            lambda: access.exists() and access.read_text().count("\n") >= 14,
            timeout=10,
            what="the access log",
            program=server,
        )
        output = server.output(tail=None)
    logged = {"access": access.read_text(), "error": errors.read_text(), "django": output}
    assert "/accounts/password/reset/key/[redacted]/" in logged["access"]
    assert "/accounts/invitation/[redacted]/" in logged["access"]
    assert "/accounts/invitation/[redacted]/" in logged["django"]  # the 410 warning line
    for sink, text in logged.items():
        assert reset_key not in text, sink
        assert token not in text, sink
