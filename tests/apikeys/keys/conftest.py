"""Fixtures of the key-management API tests."""

import pytest

from tests.helpers import ALL_PERMISSIONS


@pytest.fixture
def acting(org, make_key, client_for):
    """Return ``acting(**settings) -> (key, client)``: a keys:manage key restricted as given."""

    def make(**settings):
        settings.setdefault("permissions", ALL_PERMISSIONS)
        key, plaintext = make_key(org, name="Acting", **settings)
        return key, client_for(plaintext)

    return make
