"""Signed-in browsers (Django test clients) for the Developer Settings pages."""

import pytest
from django.test import Client
from helpers import mark_recently_authenticated

from accounts.models import Membership


@pytest.fixture(autouse=True)
def _cheap_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["tests.web.fasthash.FastArgon2PasswordHasher"]


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
