"""Fixtures of the key-management API tests."""

import shutil
import socket
import subprocess

import pytest

from tests.helpers import ALL_PERMISSIONS
from tests.processes import free_port, wait_for


@pytest.fixture
def acting(org, make_key, client_for):
    """Return ``acting(**settings) -> (key, client)``: a keys:manage key restricted as given."""

    def make(**settings):
        settings.setdefault("permissions", ALL_PERMISSIONS)
        key, plaintext = make_key(org, name="Acting", **settings)
        return key, client_for(plaintext)

    return make


@pytest.fixture
def own_redis(settings):
    """A redis-server of this test's own, the cache (and key cache) on it; ``stop()`` kills it."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("needs redis-server")
    port = free_port()
    server = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{port}/0",
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.5, "SOCKET_TIMEOUT": 0.5},
        }
    }
    settings.APIKEYS_KEY_CACHE = True
    wait_for(lambda: _answers(port), timeout=10, what="redis-server")

    def stop():
        server.terminate()
        server.wait(timeout=10)

    yield stop
    if server.poll() is None:
        stop()


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False
