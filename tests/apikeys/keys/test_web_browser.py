"""The Developer Settings pages in headless Chromium against a running server.

Skipped, with the reason, where ``/usr/bin/chromium`` is not installed (``apt-get install
chromium``); Playwright's own browser download is not used. Screenshots of the key table and
of the show-once page go to ``artifacts/screenshots/`` at 1280 and 360 px wide.
"""

import json
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings

from accounts.models import Membership
from apikeys.keys.models import ApiKey
from tests.helpers import BROWSER_TESTS, PASSWORD

SHOTS = Path(settings.BASE_DIR) / "artifacts" / "screenshots"

pytestmark = BROWSER_TESTS


@pytest.fixture
def page_for(browser, live_server):
    contexts = []

    def make(user, *, width=1280, height=900):
        context = browser.new_context(
            viewport={"width": width, "height": height}, base_url=live_server.url
        )
        context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
        contexts.append(context)
        page = context.new_page()
        page.goto("/settings/developer/")
        assert "/accounts/login/" in page.url  # signed out: sent to sign in
        page.get_by_label("Email address").fill(user.email)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url("**/settings/developer/")
        return page

    yield make
    for context in contexts:
        context.close()


def settled_content(page) -> str:
    """Return the page's HTML once it has stopped navigating."""
    from playwright.sync_api import Error as PlaywrightError

    for _ in range(50):
        try:
            page.wait_for_load_state()
            return page.content()
        except PlaywrightError:
            page.wait_for_timeout(100)
    raise AssertionError("the page never settled")


def api_get(url: str, key: str) -> tuple[int, dict]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (test server)
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_admin_creates_copies_uses_and_revokes_a_key(page_for, live_server, org, make_user):
    owner = make_user(org, role=Membership.Role.OWNER)
    page = page_for(owner)

    page.get_by_role("link", name="Create key").click()
    page.get_by_label("Name").fill("Browser key")
    page.get_by_role("button", name="Create key").click()
    page.get_by_text("It will not be shown again").wait_for()

    shown = page.locator("#secret-value").inner_text().strip()
    page.bring_to_front()  # the clipboard API refuses a document without focus
    page.get_by_role("button", name="Copy").click()
    # Either message: a failure shows which one it was.
    page.wait_for_function("document.querySelector('.copy-status').textContent.trim() !== ''")
    assert page.locator(".copy-status").inner_text().strip() == "Copied to the clipboard."
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == shown
    assert copied.startswith("sk-live-per-")

    status_url = f"{live_server.url}/api/v1/status/job_doesnotexist"
    status, body = api_get(status_url, copied)
    assert (status, body["error"]["code"]) == (404, "job_not_found")  # authenticated

    # Going back and forth never brings the key back.
    # Chromium does not restore the no-store answer to a POST: it asks to resubmit
    # (ERR_CACHE_MISS), and a resubmission is told the key is not shown again.
    from playwright.sync_api import Error as PlaywrightError

    page.get_by_role("link", name="I have stored the key").click()
    try:
        page.go_back()
    except PlaywrightError as error:
        assert "ERR_CACHE_MISS" in str(error)
    assert copied not in settled_content(page)

    key = ApiKey.objects.get(organization=org, name="Browser key")
    page.goto(f"/settings/developer/keys/{key.key_id}/")
    page.get_by_role("link", name="Revoke…").click()
    page.get_by_role("button", name="Revoke “Browser key”").click()
    page.get_by_text("is revoked").first.wait_for()

    status, body = api_get(status_url, copied)
    assert (status, body["error"]["code"]) == (401, "api_key_revoked")


def test_member_sees_keys_but_no_controls(page_for, org, make_user, make_key):
    make_key(org, name="Team key")
    page = page_for(make_user(org, role=Membership.Role.MEMBER))
    assert page.get_by_role("link", name="Team key").is_visible()
    assert page.get_by_role("link", name="Create key").count() == 0
    page.get_by_role("link", name="Team key").click()
    assert page.get_by_role("button").filter(has_text="Disable").count() == 0
    assert page.get_by_role("link", name="Revoke…").count() == 0


def test_ineligible_plan_sees_the_explanation(page_for, make_org, make_user):
    org = make_org(plan="starter")
    page = page_for(make_user(org, role=Membership.Role.OWNER))
    assert page.get_by_text("API keys need a Business or Enterprise plan").is_visible()
    assert page.get_by_role("link", name="Create key").count() == 0


def test_screenshots_of_key_table_and_show_once_page(page_for, org, make_user, make_key):
    SHOTS.mkdir(parents=True, exist_ok=True)
    owner = make_user(org, role=Membership.Role.OWNER, email="owner@acme.example")
    make_key(org, name="Checkout service", permissions=["jobs:write", "jobs:read", "usage:read"])
    make_key(org, name="Nightly reports", type="test", environment="staging")
    for width, label in [(1280, "desktop"), (360, "360")]:
        page = page_for(owner, width=width, height=800)
        page.screenshot(path=str(SHOTS / f"key-table-{label}.png"), full_page=True)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"the key table page scrolls sideways at {width} px"
        page.get_by_role("link", name="Create key").click()
        page.screenshot(path=str(SHOTS / f"create-key-{label}.png"), full_page=True)
        page.get_by_label("Name").fill(f"Deploy bot {label}")
        page.get_by_role("button", name="Create key").click()
        page.get_by_text("It will not be shown again").wait_for()
        page.screenshot(path=str(SHOTS / f"show-once-{label}.png"), full_page=True)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"the show-once page scrolls sideways at {width} px"
    for name in ["key-table-desktop", "key-table-360", "show-once-desktop", "show-once-360"]:
        assert (SHOTS / f"{name}.png").stat().st_size > 0
