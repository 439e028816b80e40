"""Pages survive Redis: with the cache's Redis stopped or hung, sign-in, re-authentication,
password reset and the pages answer (no 500), and sign-in's limits hold at each process's
share of them, never open. Redis is this test's own redis-server, or a server that accepts
connections and never answers."""

import shutil
import socket
import subprocess

import pytest
from django.core import mail
from django.core.cache import cache
from django.test import Client
from django_redis.exceptions import ConnectionInterrupted
from redis.exceptions import ConnectionError as RedisConnectionError

from accounts.models import Membership
from perceptis.breaker import redis_breaker
from perceptis.pagecache import local_cache
from tests.helpers import PASSWORD, HungRedis
from tests.processes import free_port, wait_for

LOCKED = b"Too many failed login attempts"
WRONG = b"The email address and/or password you specified are not correct"


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def _cache_on(settings, port: int) -> None:
    settings.CACHES = {
        "default": {
            "BACKEND": "perceptis.pagecache.PageCache",
            "LOCATION": f"redis://127.0.0.1:{port}/0",
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2},
        }
    }


@pytest.fixture(autouse=True)
def _limits(settings):
    """Four failures per account and two web processes: each process allows two alone."""
    settings.APIKEYS_WEB_PROCESSES = 2
    settings.APIKEYS_REDIS_BREAKER_SECONDS = 60
    settings.ACCOUNT_RATE_LIMITS = {
        **settings.ACCOUNT_RATE_LIMITS,
        "login_failed": "20/5m/ip,4/5m/key",
        "reset_password": "20/m/ip,4/m/key",
    }
    redis_breaker.reset()
    local_cache.clear()
    yield
    redis_breaker.reset()
    local_cache.clear()


@pytest.fixture
def stopped_redis(settings):
    """A redis-server of this test's own, then stopped: the cache points at a closed port."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("needs redis-server")
    port = free_port()
    server = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: _answers(port), timeout=10, what="redis-server")
        _cache_on(settings, port)
        cache.set("allauth:probe", "up")  # it is really used while it runs
        assert cache.get("allauth:probe") == "up"
        assert not redis_breaker.is_open
    finally:
        server.terminate()
        server.wait(timeout=10)
    return port


@pytest.fixture
def hung_redis(settings):
    server = HungRedis()
    _cache_on(settings, server.port)
    yield server
    server.close()


@pytest.fixture
def owner(org, make_user):
    return make_user(org, role=Membership.Role.OWNER, email="owner@example.com")


def sign_in(client, email, password):
    return client.post("/accounts/login/", {"login": email, "password": password})


@pytest.mark.parametrize("outage", ["stopped_redis", "hung_redis"])
def test_sign_in_reauthentication_reset_and_pages_answer_without_redis(request, outage, owner):
    request.getfixturevalue(outage)
    client = Client()
    assert client.get("/accounts/login/").status_code == 200
    response = sign_in(client, owner.email, PASSWORD)
    assert response.status_code == 302, response.content[:300]
    assert client.get("/settings/developer/").status_code == 200
    assert client.get("/settings/developer/members/").status_code == 200
    assert client.get("/accounts/reauthenticate/").status_code == 200
    response = client.post("/accounts/reauthenticate/", {"password": PASSWORD})
    assert response.status_code == 302
    response = Client().post("/accounts/password/reset/", {"email": owner.email})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    assert redis_breaker.is_open


def test_a_hung_redis_costs_one_connection_per_breaker_interval_not_one_per_request(
    hung_redis, owner
):
    for _ in range(3):
        client = Client()
        assert sign_in(client, owner.email, PASSWORD).status_code == 302
        assert client.get("/settings/developer/").status_code == 200
    # One timed-out attempt opened the breaker; every later call skipped Redis.
    assert hung_redis.connections <= 1


@pytest.mark.parametrize("outage", ["stopped_redis", "hung_redis"])
def test_failed_sign_ins_lock_at_this_process_share_never_open(request, outage, owner):
    """Limit 4 per account, 2 processes: this process allows 2 failures, then refuses even
    the right password, as the API's limits count alone."""
    request.getfixturevalue(outage)
    for _ in range(2):
        response = sign_in(Client(), owner.email, "wrong-password")
        assert response.status_code == 200 and WRONG in response.content
    client = Client()
    response = sign_in(client, owner.email, PASSWORD)
    assert LOCKED in response.content
    assert "_auth_user_id" not in client.session


@pytest.mark.parametrize("outage", ["stopped_redis", "hung_redis"])
def test_password_reset_requests_are_limited_at_the_share(request, outage, owner):
    request.getfixturevalue(outage)
    for _ in range(4):
        Client().post("/accounts/password/reset/", {"email": owner.email})
    assert len(mail.outbox) == 2  # 4 per address, 2 processes: 2 here


def test_the_api_path_keys_still_see_the_outage(stopped_redis):
    """Only allauth's keys fall back here: the request path's own calls keep raising, for its
    own fallback (``apikeys.keys.fallback.shared_call``) to count at the share."""
    with pytest.raises((ConnectionInterrupted, RedisConnectionError)):
        cache.get("apikeys:anything")
