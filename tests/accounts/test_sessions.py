"""Sessions: an idle timeout, an absolute lifetime, __Host- cookies, signing out everywhere."""

import time

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone

from accounts.middleware import AUTH_STARTED_KEY
from accounts.models import AuditEvent, Membership
from tests.helpers import PASSWORD, settings_loaded


@pytest.fixture
def owner(org, make_user):
    return make_user(org, role=Membership.Role.OWNER)


def sign_in(owner, **extra) -> Client:
    client = Client(**extra)
    response = client.post("/accounts/login/", {"login": owner.email, "password": PASSWORD})
    assert response.status_code == 302
    return client


def test_idle_timeout_and_absolute_lifetime_defaults():
    assert settings.SESSION_COOKIE_AGE == 3600
    assert settings.SESSION_SAVE_EVERY_REQUEST is True
    assert settings.SESSION_ABSOLUTE_LIFETIME_SECONDS == 12 * 3600


def test_each_request_moves_the_idle_expiry(owner):
    client = sign_in(owner)
    first = client.session.get_expiry_date()
    time.sleep(1.1)
    response = client.get("/settings/developer/")
    assert client.session.get_expiry_date() > first
    assert client.session.get_expiry_age() == 3600
    # The cookie lasts until the browser closes; the server ends the session an hour after
    # the last request either way.
    stored = Session.objects.get(session_key=client.session.session_key)
    assert 3590 < (stored.expire_date - timezone.now()).total_seconds() <= 3600
    assert response.cookies[settings.SESSION_COOKIE_NAME]["max-age"] == ""


def test_an_idle_session_ends(owner, settings):
    client = sign_in(owner)
    session = client.session
    session.set_expiry(-1)  # as if the hour had passed
    session.save()
    assert client.get("/settings/developer/").status_code == 302


def test_the_session_ends_after_its_absolute_lifetime_however_active(owner):
    client = sign_in(owner)
    assert client.get("/settings/developer/").status_code == 200
    session = client.session
    session[AUTH_STARTED_KEY] = int(time.time()) - 12 * 3600 - 5
    session.save()
    response = client.get("/settings/developer/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert client.get("/settings/developer/").status_code == 302


def test_secure_cookies_get_the_host_prefix():
    secure = settings_loaded(SESSION_COOKIE_SECURE="True")
    assert secure.SESSION_COOKIE_NAME == "__Host-sessionid"
    assert secure.CSRF_COOKIE_NAME == "__Host-csrftoken"
    assert settings_loaded(SESSION_COOKIE_SECURE="False").SESSION_COOKIE_NAME == "sessionid"
    # __Host- cookies need Path=/ and no Domain, which is what Django sends by default.
    assert settings.SESSION_COOKIE_PATH == "/" and settings.SESSION_COOKIE_DOMAIN is None


def test_sign_out_everywhere_ends_every_session(owner):
    laptop = sign_in(owner, HTTP_USER_AGENT="laptop")
    phone = sign_in(owner, HTTP_USER_AGENT="phone")
    assert phone.get("/settings/developer/").status_code == 200
    page = laptop.get("/accounts/")
    assert b"Sign out everywhere" in page.content
    response = laptop.post("/accounts/sign-out-everywhere/")
    assert response.status_code == 302
    assert phone.get("/settings/developer/").status_code == 302
    assert laptop.get("/settings/developer/").status_code == 302
    event = AuditEvent.objects.get(action="user.signed_out_everywhere")
    assert event.metadata == {"sessions": 2}
