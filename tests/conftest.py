"""Shared factories and clients. Data comes from the services, as in production."""

import os
import shutil
import socket
import subprocess
import time

import pytest
from django.core.cache import cache
from django.db import connections
from django.test import Client, override_settings
from rest_framework.test import APIClient

from accounts.members.services import membership_create
from accounts.models import Membership, Organization, User
from accounts.services import user_create
from apikeys.keys import ratelimit
from apikeys.keys.services import apikey_create
from billing import prices
from billing.services import organization_open
from tests.helpers import (
    CHROMIUM,
    PASSWORD,
    SYSTEM,
    bearer,
    cache_on_redis,
    counter,
    enable_totp,
    mark_recently_authenticated,
)
from tests.processes import free_port, wait_for


@pytest.fixture(autouse=True, scope="session")
def _fast_password_hashing():
    """Hash test passwords with MD5: Argon2's deliberate slowness buys nothing in tests.

    For the whole session, so that every user any fixture makes is cheap; a test of the
    production hasher sets ``PASSWORD_HASHERS`` back with the ``settings`` fixture.
    """
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        yield


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()
    ratelimit.failed_auth_forget()
    prices.price_table_forget()  # a test's rolled-back price change must not outlive it
    yield
    cache.clear()
    ratelimit.failed_auth_forget()
    prices.price_table_forget()


@pytest.fixture(autouse=True)
def _usage_buffer(settings):
    """Start each test with an empty usage buffer and no background flusher.

    Buffered records of one test would name keys another test's rollback removed; tests that
    need the figures call ``apikeys.usage.metering.flush()`` themselves.
    """
    from apikeys.usage import metering

    settings.APIKEYS_USAGE_FLUSH_THREAD = False
    metering.discard()
    yield
    metering.discard()


@pytest.fixture
def admin_user(db, django_user_model):
    """pytest-django's superuser for ``admin_client``, with two-factor, which admin requires."""
    from tests.helpers import enable_totp

    user = django_user_model.objects.create_superuser(email="admin@example.com", password="x")
    enable_totp(user)
    return user


@pytest.fixture
def make_org(db):
    """Return a factory: ``make_org(plan="business", credits=100, name=None)``."""

    def make(*, plan: str = "business", credits: int = 100, name: str | None = None):
        return organization_open(
            name=name or f"Org {next(counter)}", plan_code=plan, credits=credits, actor=SYSTEM
        )

    return make


@pytest.fixture
def org(make_org) -> Organization:
    return make_org()


@pytest.fixture
def make_user(db):
    """Return a factory: ``make_user(org, role="admin", email=None, password=PASSWORD)``."""

    def make(
        organization=None, *, role=Membership.Role.ADMIN, email=None, password=PASSWORD, **extra
    ):
        user = user_create(
            email=email or f"user{next(counter)}@example.com",
            password=password,
            actor=SYSTEM,
            **extra,
        )
        if organization is not None:
            membership_create(user=user, organization=organization, role=role, actor=SYSTEM)
        return user

    return make


@pytest.fixture
def make_key(db):
    """Return a factory: ``make_key(org, **settings) -> (ApiKey, plaintext)``."""

    def make(organization, *, name=None, actor=SYSTEM, **fields):
        return apikey_create(
            organization=organization, name=name or f"Key {next(counter)}", actor=actor, **fields
        )

    return make


@pytest.fixture
def live_key(org, make_key):
    return make_key(org)


@pytest.fixture
def api():
    """A DRF test client; pass ``HTTP_AUTHORIZATION=bearer(key)`` or use ``client_for``."""
    return APIClient()


@pytest.fixture
def client_for():
    """Return ``client_for(plaintext)``: an API client that sends that key on every request."""

    def make(plaintext: str) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=bearer(plaintext))
        return client

    return make


# --- Admin sign-ins: Support staff, a superuser, staff without a group -----------------------


@pytest.fixture
def support_user(make_user):
    return make_user(None, email="support@example.com", is_staff=True, group_names=["Support"])


@pytest.fixture
def superuser(db):
    return User.objects.create_superuser("root@example.com", "correct-horse-battery-staple")


@pytest.fixture
def bare_staff(make_user):
    return make_user(None, email="staff@example.com", is_staff=True)


ADMIN_IP = "203.0.113.7"


def _client_for(user) -> Client:
    client = Client(REMOTE_ADDR=ADMIN_IP)
    if user.is_staff:
        enable_totp(user)  # staff need two-factor to use admin
    client.force_login(user)
    return client


@pytest.fixture
def support(support_user) -> Client:
    """A test client signed in to admin as a member of the Support group."""
    return _client_for(support_user)


@pytest.fixture
def root(superuser) -> Client:
    """A test client signed in to admin as a superuser."""
    return _client_for(superuser)


@pytest.fixture
def bare(bare_staff) -> Client:
    """A test client signed in as staff without any group or permission."""
    return _client_for(bare_staff)


@pytest.fixture
def run_action():
    """Return ``run_action(client, url, action, objects, **extra)``: post a changelist action
    the way the admin's own action form does."""

    def run(client, changelist_url, action, objects, *, follow=False, **extra):
        data = {
            "action": action,
            "index": "0",
            "_selected_action": [str(o.pk) for o in objects],
            **extra,
        }
        return client.post(changelist_url, data, follow=follow)

    return run


# --- Developer Settings: signed-in test clients by role ---------------------------------------


@pytest.fixture
def signed_in(db):
    """Return ``signed_in(user) -> Client`` with that person signed in (just now, so that pages
    asking for a recent password let them in)."""

    def make(user) -> Client:
        client = Client()
        client.force_login(user)
        mark_recently_authenticated(client, user)
        return client

    return make


@pytest.fixture
def owner(org, make_user):
    return make_user(org, role=Membership.Role.OWNER)


@pytest.fixture
def member(org, make_user):
    return make_user(org, role=Membership.Role.MEMBER)


@pytest.fixture
def web(signed_in, owner) -> Client:
    """The organization's owner, signed in."""
    return signed_in(owner)


# --- Browser tests: one Chromium per module ---------------------------------------------------


@pytest.fixture(scope="module")
def browser():
    # Playwright's sync API runs an event loop in this thread; Django refuses ORM calls from a
    # thread with a running loop unless told that this test code is synchronous.
    # Only while this module runs: subprocesses other tests start must not inherit it.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    # Django keeps database connections per thread, and per context while an event loop is
    # running in the thread. Playwright's sync API leaves its loop running in this thread, so
    # from here on the tests, and pytest-django's restore and flush around them, would get
    # fresh connections that lack the serialized test data: no restore before a test, and a
    # flush that runs post_migrate, re-creating content types and permissions which the next
    # serialized-rollback test then inserts again. Keep using this thread's connections.
    thread_connections = {alias: connections[alias] for alias in connections}
    with sync_playwright() as playwright:
        for alias, connection in thread_connections.items():
            connections[alias] = connection
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        try:
            yield browser
        finally:
            browser.close()
            for alias in thread_connections:
                del connections[alias]
            if previous is None:
                os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
            else:
                os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


def pytest_collection_modifyitems(config, items):
    """Refuse transactional tests that do not use serialized rollback, before any test runs.

    A transactional test ends by emptying every table, the migrations' data (plans, the Support
    group, content types) included. With ``serialized_rollback=True`` it puts that data back
    before it starts, so any test may follow any other; without it, whether the plans exist
    would depend on which tests ran before, and its closing flush would re-create content
    types that the next serialized-rollback test inserts again.
    """
    offending = []
    for item in items:
        marker = item.get_closest_marker("django_db")
        options = marker.kwargs if marker else {}
        fixtures = set(getattr(item, "fixturenames", ()))
        transactional = options.get("transaction") or fixtures & {"transactional_db", "live_server"}
        serialized = (
            options.get("serialized_rollback") or "django_db_serialized_rollback" in fixtures
        )
        if transactional and not serialized:
            offending.append(item.nodeid)
    if offending:
        raise pytest.UsageError(
            "transactional tests need "
            "@pytest.mark.django_db(transaction=True, serialized_rollback=True): "
            + ", ".join(offending)
        )


@pytest.fixture
def one_minute(monkeypatch):
    """Every request of the test counted in the minute the test started in: a window that ends
    mid-test would otherwise hand the key a fresh limit."""
    moment = time.time()
    monkeypatch.setattr(ratelimit, "now", lambda: moment)
    return moment


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
    cache_on_redis(settings, port)
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
