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


def mark_recently_authenticated(client, user) -> None:
    """Record in the test client's session that ``user`` just gave their password, as
    django-allauth does on sign-in (``force_login`` records nothing)."""
    import time

    session = client.session
    session["account_authentication_methods"] = [
        {"method": "password", "at": time.time(), "reauthenticated": True}
    ]
    session["account_authentication_methods_user"] = str(user.pk)
    session.save()


def enable_totp(user) -> str:
    """Give ``user`` an authenticator app (and recovery codes); return the TOTP secret."""
    from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret

    secret = generate_totp_secret()
    TOTP.activate(user, secret)
    RecoveryCodes.activate(user)
    return secret


def totp_code(secret: str, offset: int = 0) -> str:
    """The authenticator app's current code for ``secret`` (``offset`` periods later)."""
    import time

    from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value

    counter = int(time.time()) // 30 + offset
    return format_hotp_value(hotp_value(secret, counter))
