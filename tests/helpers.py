"""Helpers shared by test modules: import them with ``from helpers import ...``.

(Test modules must not import ``conftest``: with several conftest files, which one that name
resolves to depends on collection order.)
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
