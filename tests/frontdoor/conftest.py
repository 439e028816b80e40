"""People signing in for real (through allauth's pages), cheaply hashed."""

import pytest


@pytest.fixture(autouse=True)
def _cheap_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["tests.web.fasthash.FastArgon2PasswordHasher"]
