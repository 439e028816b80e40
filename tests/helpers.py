"""Helpers shared by test modules: import them with ``from tests.helpers import ...``.

``tests`` and each folder in it are packages, so every test module, conftest and helper has one
name from the project root (``tests.web.conftest``); test modules import helpers, never a
conftest (pytest loads those itself).
"""

import itertools
import os

import pytest
from django.db import connection

from accounts.audit import Actor

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
