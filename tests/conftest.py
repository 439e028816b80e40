"""Shared factories and clients. Data comes from the services, as in production."""

import itertools
import os

import pytest
from django.core.cache import cache
from django.db import connection
from rest_framework.test import APIClient

from accounts.audit import Actor
from accounts.models import Membership, Organization
from accounts.services import organization_create, user_create
from apikeys.services import apikey_create

_counter = itertools.count(1)
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


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def make_org(db):
    """Return a factory: ``make_org(plan="business", credits=100, name=None)``."""

    def make(*, plan: str = "business", credits: int = 100, name: str | None = None):
        return organization_create(
            name=name or f"Org {next(_counter)}", plan_code=plan, credits=credits, actor=SYSTEM
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
        return user_create(
            email=email or f"user{next(_counter)}@example.com",
            password=password,
            organization=organization,
            role=role,
            actor=SYSTEM,
            **extra,
        )

    return make


@pytest.fixture
def make_key(db):
    """Return a factory: ``make_key(org, **settings) -> (ApiKey, plaintext)``."""

    def make(organization, *, name=None, actor=SYSTEM, **fields):
        return apikey_create(
            organization=organization, name=name or f"Key {next(_counter)}", actor=actor, **fields
        )

    return make


@pytest.fixture
def live_key(org, make_key):
    return make_key(org)


@pytest.fixture
def api():
    """A DRF test client; pass ``HTTP_AUTHORIZATION=bearer(key)`` or use ``client_for``."""
    return APIClient()


def bearer(plaintext: str) -> str:
    return f"Bearer {plaintext}"


@pytest.fixture
def client_for():
    """Return ``client_for(plaintext)``: an API client that sends that key on every request."""

    def make(plaintext: str) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=bearer(plaintext))
        return client

    return make
