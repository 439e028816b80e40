"""The request detail in headless Chromium: from the request log, at 1280 and 360 px, a row
opens a page with everything logged about the request, the request ID whole."""

import pytest

from accounts.models import Membership
from apikeys.usage.models import RequestLog
from tests.helpers import BROWSER_TESTS, PASSWORD

pytestmark = BROWSER_TESTS

REQUEST_ID = "req_01JD7ZC4M2Q8W5N6B3V1XQ7T9K5F2A8C4E6G"


@pytest.mark.parametrize("width", [1280, 360])
def test_a_request_log_row_opens_its_details(browser, live_server, org, make_user, make_key, width):
    owner = make_user(org, role=Membership.Role.OWNER, email=f"owner{width}@log.example")
    key, _ = make_key(org, name="Backend")
    RequestLog.objects.create(
        organization=org, api_key=key, method="POST", path="/api/v1/generate", status=429,
        error_code="rate_limited", latency_ms=12, client_ip="203.0.113.7",
        user_agent="python-requests/2.32.3", request_id=REQUEST_ID,
    )  # fmt: skip
    context = browser.new_context(
        viewport={"width": width, "height": 800}, base_url=live_server.url
    )
    page = context.new_page()
    page.goto("/accounts/login/")
    page.get_by_label("Email address").fill(owner.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/settings/developer/")

    page.goto("/settings/developer/requests/")
    listed = page.locator("code.request-id").first
    # Never clipped: the whole ID is inside the visible box of its cell.
    assert listed.inner_text() == REQUEST_ID
    assert listed.evaluate("e => e.scrollWidth <= e.clientWidth + 1")
    page.get_by_role("link", name="Details of POST /api/v1/generate").click()
    page.wait_for_url("**/settings/developer/requests/*/")

    facts = page.locator("dl.request-facts").inner_text()
    for shown in ("POST", "/api/v1/generate", "429", "rate_limited", "12 ms", "203.0.113.7",
                  "python-requests/2.32.3", REQUEST_ID, "Backend"):  # fmt: skip
        assert shown in facts, shown
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    context.close()
