"""Password reset by email: an expiring single-use link, the same answer for every address."""

import re

import pytest
from django.core import mail
from django.test import Client

from accounts.models import Membership
from tests.helpers import PASSWORD

RESET = "/accounts/password/reset/"
NEW = "a-brand-new-long-passphrase-7"


@pytest.fixture
def owner(org, make_user):
    return make_user(org, role=Membership.Role.OWNER, email="owner@example.com")


def _without_tokens(html: str) -> str:
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", html)


def _link() -> str:
    assert len(mail.outbox) == 1
    match = re.search(r"https?://[^/\s]+(/accounts/password/reset/key/\S+)", mail.outbox[0].body)
    assert match, mail.outbox[0].body
    return match.group(1)


def test_the_answer_is_the_same_whether_or_not_the_address_exists(client, owner):
    known = client.post(RESET, {"email": owner.email})
    unknown = Client().post(RESET, {"email": "nobody@example.com"})
    assert known.status_code == unknown.status_code == 302
    assert known["Location"] == unknown["Location"]
    page_known = client.get(known["Location"]).content.decode()
    page_unknown = Client().get(unknown["Location"]).content.decode()
    assert _without_tokens(page_known) == _without_tokens(page_unknown)
    assert len(mail.outbox) == 1  # only the real account gets an email
    assert mail.outbox[0].to == [owner.email]


def test_the_link_sets_a_new_password_once(client, owner):
    client.post(RESET, {"email": owner.email})
    link = _link()
    response = client.get(link)
    assert response.status_code == 302  # the token moves out of the URL into the session
    form_url = response["Location"]
    response = client.post(form_url, {"password1": NEW, "password2": NEW})
    assert response.status_code == 302
    owner.refresh_from_db()
    assert owner.check_password(NEW)
    # The same link again does nothing.
    again = Client()
    response = again.get(link, follow=True)
    assert b"This link no longer works" in response.content
    owner.refresh_from_db()
    assert owner.check_password(NEW)


def test_the_link_expires(client, owner, settings):
    client.post(RESET, {"email": owner.email})
    link = _link()
    settings.PASSWORD_RESET_TIMEOUT = -1
    response = client.get(link, follow=True)
    assert b"This link no longer works" in response.content
    owner.refresh_from_db()
    assert owner.check_password(PASSWORD)


def test_a_reset_lifts_the_sign_in_lock(client, owner):
    for _ in range(5):
        client.post("/accounts/login/", {"login": owner.email, "password": "wrong"})
    client.post(RESET, {"email": owner.email})
    response = client.get(_link())
    client.post(response["Location"], {"password1": NEW, "password2": NEW})
    response = Client().post("/accounts/login/", {"login": owner.email, "password": NEW})
    assert response.status_code == 302
