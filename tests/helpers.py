"""Helpers shared by test modules: import them with ``from helpers import ...``.

(Test modules must not import ``conftest``: with several conftest files, which one that name
resolves to depends on collection order.)
"""

import itertools
import os
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from accounts.audit import Actor
from apikeys.models import ApiKey, Permission

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


# --- The privilege rule (tests/keys_api/test_key_privileges*.py) -------------------------------

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
