"""Fixtures of the exposed-key tests: a GitHub signing key pair the tests make, GitHub's key
document in a file or served on 127.0.0.1, and a way to run what the public endpoint queued."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from exposure import github
from tests.exposure.helpers import Signer, key_document


@pytest.fixture(autouse=True)
def _fresh_github_keys():
    github.forget()
    yield
    github.forget()


@pytest.fixture
def signer() -> Signer:
    return Signer("90a421169f0a406205f1563a953312f0be898d3c7b6c06b681aa86a874555f4a")


@pytest.fixture
def keys_file(tmp_path, settings, signer):
    """GitHub's key document in ``SECRET_SCANNING_GITHUB_KEYS_FILE``, holding ``signer``."""
    path = tmp_path / "github-keys.json"
    path.write_text(json.dumps(key_document(signer)))
    settings.SECRET_SCANNING_GITHUB_KEYS_FILE = str(path)
    return path


class KeyServer:
    """Serve GitHub's key document on 127.0.0.1, counting the fetches."""

    def __init__(self, document: dict):
        self.document = document
        self.fetches = 0
        self.status = 200
        server_self = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                server_self.fetches += 1
                body = json.dumps(server_self.document).encode()
                self.send_response(server_self.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/meta/public_keys/secret_scanning"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def key_server(settings, signer):
    """GitHub's meta endpoint on 127.0.0.1, in ``SECRET_SCANNING_GITHUB_KEYS_URL``."""
    server = KeyServer(key_document(signer))
    settings.SECRET_SCANNING_GITHUB_KEYS_FILE = ""
    settings.SECRET_SCANNING_GITHUB_KEYS_URL = server.url
    settings.OUTBOUND_ALLOW_PRIVATE_ADDRESSES = True
    settings.OUTBOUND_ALLOWED_PORTS = [*settings.OUTBOUND_ALLOWED_PORTS, server.port]
    yield server
    server.close()


@pytest.fixture
def report(api):
    """Return ``report(items, signer=..., body=None, identifier=None, signature=None)``: POST a
    GitHub report, signed by ``signer`` unless a signature or identifier is given."""

    def send(items, *, signer=None, body=None, identifier=None, signature=None, **extra):
        raw = body if body is not None else json.dumps(items).encode()
        headers = {}
        if signer is not None or identifier is not None:
            headers["HTTP_GITHUB_PUBLIC_KEY_IDENTIFIER"] = identifier or signer.identifier
        if signer is not None or signature is not None:
            headers["HTTP_GITHUB_PUBLIC_KEY_SIGNATURE"] = signature or signer.sign(raw)
        return api.generic(
            "POST",
            "/api/v1/secret-scanning/github",
            raw,
            content_type="application/json",
            **headers,
            **extra,
        )

    return send
