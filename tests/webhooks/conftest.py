"""Fixtures of the webhooks tests: a receiver on 127.0.0.1, settings that let it be used, and a
key that manages webhooks."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from apikeys.keys.models import Permission


class Receiver:
    """Answer each POST with the next ``(status, delay_seconds)`` in ``replies`` (the last
    one repeats), recording every request's headers and raw body."""

    def __init__(self):
        self.replies = [(200, 0)]
        self.requests: list[dict] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                index = len(receiver.requests)
                receiver.requests.append({"headers": dict(self.headers), "body": body})
                status, delay = receiver.replies[min(index, len(receiver.replies) - 1)]
                if delay:
                    time.sleep(delay)
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the sender gave up at its deadline

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hooks/perceptis"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def json(self, index: int) -> dict:
        return json.loads(self.requests[index]["body"])

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(autouse=True)
def _local_receivers_allowed(settings):
    # The receivers listen on http://127.0.0.1; the refusals are tested with these turned back.
    settings.OUTBOUND_ALLOW_PRIVATE_ADDRESSES = True
    settings.WEBHOOKS_REQUIRE_HTTPS = False
    settings.WEBHOOKS_DEADLINE_SECONDS = 2.0


@pytest.fixture
def receiver(settings):
    server = Receiver()
    settings.OUTBOUND_ALLOWED_PORTS = [*settings.OUTBOUND_ALLOWED_PORTS, server.port]
    yield server
    server.close()


@pytest.fixture
def manager(org, make_key):
    """A live key of ``org`` with ``keys:manage`` and the job permissions: (key, plaintext)."""
    return make_key(
        org,
        permissions=[Permission.KEYS_MANAGE, Permission.JOBS_WRITE, Permission.JOBS_READ],
    )


@pytest.fixture
def test_manager(org, make_key):
    """A test key of ``org`` with ``keys:manage``: ``(key, plaintext)``."""
    return make_key(
        org,
        type="test",
        permissions=[Permission.KEYS_MANAGE, Permission.JOBS_WRITE, Permission.JOBS_READ],
    )
