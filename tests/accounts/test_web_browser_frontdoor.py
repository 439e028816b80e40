"""The front door in headless Chromium: two-factor sign-in, the lockout, a password reset
through the emailed link, and creating a key after re-authenticating.

Like ``test_web_browser.py``: Debian's ``/usr/bin/chromium``, skipped with a reason without it.
The live server runs in this process, so the reset email is in ``mail.outbox`` (the console
backend prints the same message outside tests). Screenshots go to ``artifacts/screenshots/``.
"""

import re
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore
from django.core import mail
from django.core.cache import cache

from accounts.models import Membership
from apikeys.keys.models import ApiKey
from tests.helpers import BROWSER_TESTS, PASSWORD, enable_totp, totp_code

SHOTS = Path(settings.BASE_DIR) / "artifacts" / "screenshots"

pytestmark = BROWSER_TESTS


@pytest.fixture
def new_page(browser, live_server):
    contexts = []

    def make():
        context = browser.new_context(
            viewport={"width": 1280, "height": 900}, base_url=live_server.url
        )
        contexts.append(context)
        page = context.new_page()
        errors = []
        page.on(
            "console",
            lambda m: "Content Security Policy" in m.text and errors.append(m.text),
        )
        page.csp_violations = errors
        return page

    yield make
    for context in contexts:
        context.close()


def fill_sign_in(page, email, password):
    page.goto("/accounts/login/")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


def shot(page, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_sign_in_with_two_factor(new_page, org, make_user):
    owner = make_user(org, role=Membership.Role.OWNER, email="owner@acme.example")
    secret = enable_totp(owner)
    page = new_page()
    fill_sign_in(page, owner.email, PASSWORD)
    page.wait_for_url("**/accounts/2fa/authenticate/**")
    shot(page, "two-factor-code")
    page.locator("input[name=code]").fill(totp_code(secret))
    page.locator("button[type=submit]").first.click()
    page.wait_for_url("**/settings/developer/")
    assert owner.email in page.content()
    assert page.csp_violations == []  # no Content-Security-Policy violation on the way


def test_the_lockout(new_page, org, make_user):
    owner = make_user(org, role=Membership.Role.OWNER, email="owner@acme.example")
    page = new_page()
    for _ in range(5):
        fill_sign_in(page, owner.email, "not-the-password")
        assert "are not correct" in page.content()
    fill_sign_in(page, owner.email, PASSWORD)
    assert "Too many failed login attempts" in page.content()
    assert "/accounts/login/" in page.url
    shot(page, "sign-in-locked")


def test_password_reset_through_the_emailed_link(new_page, org, make_user):
    owner = make_user(org, role=Membership.Role.OWNER, email="owner@acme.example")
    page = new_page()
    page.goto("/accounts/login/")
    page.get_by_role("link", name="Forgot your password?").click()
    page.locator("input[name=email]").fill(owner.email)
    page.locator("button[type=submit]").first.click()
    page.wait_for_url("**/accounts/password/reset/done/")
    assert len(mail.outbox) == 1
    link = re.search(r"https?://\S+/accounts/password/reset/key/\S+", mail.outbox[0].body).group(0)
    page.goto(link)
    page.locator("input[name=password1]").fill("a-brand-new-long-passphrase-7")
    page.locator("input[name=password2]").fill("a-brand-new-long-passphrase-7")
    shot(page, "password-reset-form")
    page.locator("button[type=submit]").first.click()
    page.wait_for_url("**/accounts/password/reset/key/done/")
    fill_sign_in(page, owner.email, "a-brand-new-long-passphrase-7")
    page.wait_for_url("**/settings/developer/")
    # The link works once.
    page.goto(link)
    assert "This link no longer works" in page.content()


def test_create_a_key_after_re_authenticating(new_page, org, make_user):
    owner = make_user(org, role=Membership.Role.OWNER, email="owner@acme.example")
    page = new_page()
    fill_sign_in(page, owner.email, PASSWORD)
    page.wait_for_url("**/settings/developer/")
    # Eleven minutes pass: the sign-in no longer counts as recent.
    cookie = next(c for c in page.context.cookies() if c["name"] == settings.SESSION_COOKIE_NAME)
    session = SessionStore(session_key=cookie["value"])
    for record in session["account_authentication_methods"]:
        record["at"] = time.time() - 11 * 60
    session.save()
    cache.clear()  # the session cache, if any, reads the database again

    page.get_by_role("link", name="Create key").click()
    page.wait_for_url("**/accounts/reauthenticate/**")
    shot(page, "re-authenticate")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Confirm").click()
    page.wait_for_url("**/settings/developer/keys/new/")
    page.get_by_label("Name").fill("After re-authentication")
    page.get_by_role("button", name="Create key").click()
    page.get_by_text("It will not be shown again").wait_for()
    assert ApiKey.objects.filter(organization=org, name="After re-authentication").exists()
    assert page.csp_violations == []
