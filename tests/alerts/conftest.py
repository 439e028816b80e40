"""A webhook receiver on 127.0.0.1 for alert delivery tests, and usage rows to alert on."""

import json
import threading
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from apikeys.usage.models import BUCKET_FIELDS, UsageHourly


class Receiver:
    """Answer each POST with the next status in ``statuses`` (the last one repeats)."""

    def __init__(self):
        self.statuses = [200]
        self.requests: list[dict] = []
        self.redirect_to = ""
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/hooks/perceptis"

    def _handler(self):
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length)
                index = len(receiver.requests)
                receiver.requests.append(
                    {"path": self.path, "headers": dict(self.headers), "body": body}
                )
                status = receiver.statuses[min(index, len(receiver.statuses) - 1)]
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header("Location", receiver.redirect_to)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        return Handler

    def json(self, index: int) -> dict:
        return json.loads(self.requests[index]["body"])


class BrokenEmailBackend:
    """An email backend whose server refuses the connection."""

    def __init__(self, **kwargs):
        pass

    def send_messages(self, messages):
        raise ConnectionRefusedError("mail server down")


@pytest.fixture(autouse=True)
def _private_receivers_allowed(settings):
    # The receivers here listen on 127.0.0.1; the refusal itself is tested with it turned off.
    settings.APIKEYS_ALERT_ALLOW_PRIVATE_URLS = True


@pytest.fixture
def receiver(settings):
    server = Receiver()
    settings.OUTBOUND_ALLOWED_PORTS = [*settings.OUTBOUND_ALLOWED_PORTS, server.server.server_port]
    server.thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()


@pytest.fixture
def add_usage(db):
    """Return ``add_usage(key, hour, requests=..., errors=..., bucket=index)``."""

    def add(key, hour: datetime, *, requests: int, errors: int = 0, bucket: int = 3):
        counts = dict.fromkeys(BUCKET_FIELDS, 0)
        counts[BUCKET_FIELDS[bucket]] = requests
        return UsageHourly.objects.create(
            organization=key.organization,
            api_key=key,
            hour=hour,
            requests=requests,
            errors=errors,
            **counts,
        )

    return add
