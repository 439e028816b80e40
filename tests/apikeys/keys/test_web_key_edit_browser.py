"""Editing a key in headless Chromium, on a phone: an owner opens the key, edits its
permissions, rate limit and allowlist, sees a refused value next to its field, then saves."""

import pytest

from accounts.models import AuditEvent, Membership
from tests.helpers import BROWSER_TESTS, PASSWORD

pytestmark = BROWSER_TESTS


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(viewport={"width": 360, "height": 740}, base_url=live_server.url)
    page = context.new_page()
    yield page
    context.close()


def test_an_owner_edits_a_key_on_its_page(page, org, make_user, make_key):
    owner = make_user(org, role=Membership.Role.OWNER, email="owner@edit.example")
    key, _ = make_key(org, name="Backend", permissions=["jobs:write", "jobs:read"])
    page.goto("/accounts/login/")
    page.get_by_label("Email address").fill(owner.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/settings/developer/")

    page.get_by_role("link", name="Backend").click()
    page.get_by_role("link", name="Edit settings").click()
    page.wait_for_url(f"**/keys/{key.key_id}/edit/")
    page.get_by_label("Read jobs (jobs:read)").uncheck()
    page.get_by_label("Rate limit (requests per minute)").fill("30")
    page.get_by_label("IP allowlist").fill("not an address")
    page.get_by_role("button", name="Save changes").click()
    page.locator("#id_ip_allowlist_error").wait_for()
    assert page.evaluate("document.documentElement.scrollWidth") <= 360

    page.get_by_label("IP allowlist").fill("203.0.113.0/24")
    page.get_by_role("button", name="Save changes").click()
    page.wait_for_url(f"**/keys/{key.key_id}/")
    page.get_by_text("“Backend” saved.").wait_for()

    key.refresh_from_db()
    assert key.permissions == ["jobs:write"]
    assert (key.rate_limit_per_minute, key.ip_allowlist) == (30, ["203.0.113.0/24"])
    assert AuditEvent.objects.filter(action="api_key.updated", target_id=key.key_id).count() == 1
