"""Helpers shared by test modules: import them with ``from tests.helpers import ...``.

``tests`` and each folder in it are packages, so every test module, conftest and helper has one
name from the project root (``tests.alerts.conftest``); test modules import helpers, never a
conftest (pytest loads those itself).
"""

import importlib
import itertools
import json
import os
import re
import socket
import sys
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import ModuleType
from unittest import mock

import pytest
from django.db import connection
from django.utils import timezone

import perceptis
from accounts.audit import Actor
from apikeys.keys.models import ApiKey, Permission

counter = itertools.count(1)
SYSTEM = Actor.system("tests")
PASSWORD = "correct-horse-battery-staple"


def on_postgres() -> bool:
    return connection.vendor == "postgresql"


requires_postgres = pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith(("postgres", "postgresql")),
    reason="needs PostgreSQL (set DATABASE_URL); SQLite serializes writers",
)
requires_redis = pytest.mark.skipif(
    not os.environ.get("REDIS_URL"), reason="needs Redis (set REDIS_URL)"
)


def bearer(plaintext: str) -> str:
    return f"Bearer {plaintext}"


def completion(text="Hello from the fake server", model="fake-model"):
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": model,
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 3, "completion_tokens": 5, "total_tokens": 8},
    }


class FakeServer:
    """Answer each POST with the next scripted reply: ``(status, body, delay_seconds)``.

    ``body`` is a dict (sent as JSON) or bytes (sent as is). The last reply repeats.
    """

    def __init__(self):
        self.replies = [(200, completion(), 0)]
        self.requests = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                server.requests.append(
                    {
                        "path": self.path,
                        "headers": dict(self.headers),
                        "body": json.loads(self.rfile.read(length) or b"null"),
                    }
                )
                index = min(len(server.requests), len(server.replies)) - 1
                status, body, delay = server.replies[index]
                if delay:
                    time.sleep(delay)
                payload = body if isinstance(body, bytes) else json.dumps(body).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


# --- The privilege rule (tests/apikeys/keys/test_key_privileges*.py) -------------------------

ALL_PERMISSIONS = list(Permission.values)
SOON = timezone.now() + timedelta(days=1)


def iso(moment):
    return moment.isoformat().replace("+00:00", "Z")


# One row per axis of the rule: how the acting key is restricted, a create body beyond it, a
# create body within it, a PATCH by the key on itself lifting the restriction (None where the
# axis cannot be changed) and one tightening it, and a target key stronger on that axis alone.
AXIS_ROWS = {
    "type": {
        "acting": {"type": "test"},
        "beyond": {"type": "live"},
        "within": {"type": "test"},
        "lift": None,
        "stronger": {"type": "live"},
    },
    "environment": {
        "acting": {},
        "beyond": {"environment": "staging"},
        "within": {"environment": "production"},
        "lift": None,
        "stronger": {"environment": "staging"},
    },
    "permissions": {
        "acting": {"permissions": ["keys:manage", "jobs:read"]},
        "beyond": {"permissions": ["jobs:read", "jobs:write"]},
        "within": {"permissions": ["jobs:read"]},
        "lift": {"permissions": ALL_PERMISSIONS},
        "tighter": {"permissions": ["keys:manage"]},
        "stronger": {"permissions": ALL_PERMISSIONS},
    },
    "ip_allowlist": {
        "acting": {"ip_allowlist": ["127.0.0.0/8"]},
        "beyond": {"ip_allowlist": ["127.0.0.0/8", "10.0.0.0/8"]},
        "within": {"ip_allowlist": ["127.0.0.1/32", "127.1.0.0/16"]},
        "lift": {"ip_allowlist": None},
        "tighter": {"ip_allowlist": ["127.0.0.1/32"]},
        "stronger": {"ip_allowlist": []},
    },
    "expires_at": {
        "acting": {"expires_at": SOON},
        "beyond": {"expires_at": iso(SOON + timedelta(seconds=1))},
        "within": {"expires_at": iso(SOON)},
        "lift": {"expires_at": None},
        "tighter": {"expires_at": iso(SOON - timedelta(hours=1))},
        "stronger": {"expires_at": None},
    },
    "rate_limit_per_minute": {
        "acting": {"rate_limit_per_minute": 5},
        "beyond": {"rate_limit_per_minute": 6},
        "within": {"rate_limit_per_minute": 5},
        "lift": {"rate_limit_per_minute": None},
        "tighter": {"rate_limit_per_minute": 4},
        "stronger": {"rate_limit_per_minute": None},
    },
    "allowed_models": {
        "acting": {"allowed_models": ["gpt-4o", "gpt-4o-mini"]},
        "beyond": {"allowed_models": ["gpt-4o", "o1"]},
        "within": {"allowed_models": ["gpt-4o-mini"]},
        "lift": {"allowed_models": None},
        "tighter": {"allowed_models": ["gpt-4o-mini"]},
        "stronger": {"allowed_models": []},
    },
}
AXES = list(AXIS_ROWS)
LIFTABLE = [axis for axis, row in AXIS_ROWS.items() if row["lift"] is not None]


def assert_exceeds(response, *axes):
    assert response.status_code == 403, response.json()
    error = response.json()["error"]
    assert error["code"] == "exceeds_own_privileges"
    assert list(error["fields"]) == list(axes)
    return error


def key_state(key: ApiKey) -> dict:
    """Return everything about ``key`` that a change could touch, read from the database.

    Its last use is left out: a key's own request records it, refused or not.
    """
    row = ApiKey.objects.filter(pk=key.pk).values().get()
    for field in ("last_used_at", "last_used_ip", "last_used_user_agent"):
        del row[field]
    row["secrets"] = list(key.secrets.order_by("id").values_list("secret_hash", "expires_at"))
    return row


def mark_recently_authenticated(client, user) -> None:
    """Record in the test client's session that ``user`` just gave their password, as
    django-allauth does on sign-in (``force_login`` records nothing)."""
    import time

    session = client.session
    session["account_authentication_methods"] = [
        {"method": "password", "at": time.time(), "reauthenticated": True}
    ]
    session["account_authentication_methods_user"] = str(user.pk)
    session.save()


def enable_totp(user) -> str:
    """Give ``user`` an authenticator app (and recovery codes); return the TOTP secret."""
    from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret

    secret = generate_totp_secret()
    TOTP.activate(user, secret)
    RecoveryCodes.activate(user)
    return secret


def totp_code(secret: str, offset: int = 0) -> str:
    """The authenticator app's current code for ``secret`` (``offset`` periods later)."""
    import time

    from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value

    counter = int(time.time()) // 30 + offset
    return format_hotp_value(hotp_value(secret, counter))


# --- Browser tests ----------------------------------------------------------------------------

CHROMIUM = "/usr/bin/chromium"
# Every browser test module's marks: like every transactional test here, it restores the
# migrations' data, and it needs Debian's Chromium.
BROWSER_TESTS = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.skipif(
        not os.path.exists(CHROMIUM),
        reason=f"needs Chromium at {CHROMIUM} (apt-get install chromium)",
    ),
]


def openapi_error_codes(operation: dict, status: int) -> set[str]:
    """Return the error codes an OpenAPI operation declares for ``status`` (its ``code`` enum)."""
    response = operation["responses"].get(str(status))
    assert response is not None, f"{operation['operationId']}: status {status} is not declared"
    schema = response["content"]["application/json"]["schema"]
    return set(schema["properties"]["error"]["properties"]["code"]["enum"])


def _settings_modules() -> list[str]:
    return [
        n for n in sys.modules if n == "perceptis.settings" or n.startswith("perceptis.settings.")
    ]


def settings_loaded(**environ: str) -> ModuleType:
    """Return the settings package as a process would load it with ``environ`` added.

    A fresh copy, loaded beside the running one, which stays as it was: ``django.conf.settings``
    is not changed, and neither is ``os.environ``.
    """
    running = {name: sys.modules.pop(name) for name in _settings_modules()}
    try:
        with mock.patch.dict(os.environ, environ):
            return importlib.import_module("perceptis.settings")
    finally:
        for name in _settings_modules():
            del sys.modules[name]
        sys.modules.update(running)
        perceptis.settings = running["perceptis.settings"]


def run_outbound_queue() -> int:
    """Do what an outbound-cluster worker does with the queued tasks; return attempts made.

    The queue holds one task per destination (an endpoint, an alert rule): its worker sends
    that destination's due deliveries.
    """
    from django_q.models import OrmQ

    from perceptis.queues import OUTBOUND_CLUSTER
    from webhooks.tasks import deliver_to_destination

    attempts = 0
    for message in list(OrmQ.objects.filter(key=OUTBOUND_CLUSTER)):
        assert message.task["func"] == "webhooks.tasks.deliver_to_destination"
        attempts += sum(deliver_to_destination(*message.task["args"]).values())
        message.delete()
    return attempts


class HoldingReceiver:
    """A webhook receiver on 127.0.0.1: holds each POST ``hold`` seconds, then answers the next
    of ``statuses`` (the last repeats). Notes when each request arrived (monotonic clock)."""

    def __init__(self, hold: float = 0, statuses=(200,)):
        self.started = threading.Event()
        self.finished = threading.Event()
        self.arrivals: list[float] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                index = len(receiver.arrivals)
                receiver.arrivals.append(time.monotonic())
                receiver.started.set()
                time.sleep(hold)
                self.send_response(statuses[min(index, len(statuses) - 1)])
                self.send_header("Content-Length", "0")
                self.end_headers()
                receiver.finished.set()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_port
        self.url = f"http://127.0.0.1:{self.port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def count(self) -> int:
        return len(self.arrivals)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class HungRedis:
    """Accepts connections, reads what it is sent and never answers."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.held = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            self.held.append(conn)

    def close(self):
        self.sock.close()
        for conn in self.held:
            conn.close()


def cache_on_redis(settings, port: int, *, timeout: float = 0.5, backend: str = "") -> None:
    """Put this test's cache, and the key cache, on the Redis at ``port`` (``backend``: the
    cache class, django-redis's by default), and close the breaker, which forgets the server it
    last talked to."""
    from perceptis import breaker

    settings.CACHES = {
        "default": {
            "BACKEND": backend or "django_redis.cache.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{port}/0",
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": timeout, "SOCKET_TIMEOUT": timeout},
        }
    }
    settings.APIKEYS_KEY_CACHE = True
    breaker.reset_all()


def migrate(targets=None):
    """Migrate the test database to ``targets`` (``[(app, migration)]``; None: the latest) and
    return the models as they are there (``apps.get_model``), for tests of data migrations."""
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    targets = targets or executor.loader.graph.leaf_nodes()
    executor.migrate(targets)
    executor.loader.build_graph()
    return executor.loader.project_state(targets).apps


# An admin search that scans the table: what Django's own search makes of ``=column``,
# UPPER("table"."column") = … on PostgreSQL, "table"."column" LIKE … on SQLite, which the
# column's index does not serve. (An organization subquery's name match, ``U0."name"``, is on
# the small organizations table.)
SCAN = re.compile(r'UPPER\("|"\w+"\."\w+"(::text)? LIKE')
