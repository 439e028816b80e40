"""Signed-in browsers (Django test clients) for the Developer Settings pages."""

import pytest
from django.test import Client

from accounts.models import Membership


@pytest.fixture
def signed_in(db):
    """Return ``signed_in(user) -> Client`` with that person signed in."""

    def make(user) -> Client:
        client = Client()
        client.force_login(user)
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
