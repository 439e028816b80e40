"""Shared factories and clients. Data comes from the services, as in production."""

import pytest
from django.core.cache import cache
from helpers import (  # noqa: F401
    PASSWORD,
    SYSTEM,
    bearer,
    counter,
    on_postgres,
    requires_postgres,
    requires_redis,
)
from rest_framework.test import APIClient

from accounts.models import Membership, Organization, Plan
from accounts.plans import plans_ensure
from accounts.services import user_create
from apikeys.keys.services import apikey_create
from billing.services import organization_open


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()
    yield
    cache.clear()


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
    from helpers import enable_totp

    user = django_user_model.objects.create_superuser(email="admin@example.com", password="x")
    enable_totp(user)
    return user


@pytest.fixture
def make_org(db):
    """Return a factory: ``make_org(plan="business", credits=100, name=None)``."""

    def make(*, plan: str = "business", credits: int = 100, name: str | None = None):
        # A transactional test before this one may have flushed the plans the migration made.
        plans_ensure(Plan)
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
        return user_create(
            email=email or f"user{next(counter)}@example.com",
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


def pytest_collection_modifyitems(config, items):
    """Run the browser tests last, whatever order the paths were given in.

    Under Playwright's sync API the test's database connection after a live-server test is not
    the one that holds the serialized test data, so its closing flush re-creates content types
    and permissions (post_migrate), which the next serialized-rollback test would insert again.
    """
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)
