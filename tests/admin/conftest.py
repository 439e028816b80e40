"""Admin sign-ins: a Support staff user, a superuser and a staff user without a group."""

import pytest
from django.test import Client
from helpers import enable_totp

from accounts.models import User

ADMIN_IP = "203.0.113.7"


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # Every test here signs in a few users; Argon2's deliberate slowness buys nothing in tests.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def support_user(make_user):
    return make_user(None, email="support@example.com", is_staff=True, group_names=["Support"])


@pytest.fixture
def superuser(db):
    return User.objects.create_superuser("root@example.com", "correct-horse-battery-staple")


@pytest.fixture
def bare_staff(make_user):
    return make_user(None, email="staff@example.com", is_staff=True)


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
