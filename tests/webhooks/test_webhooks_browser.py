"""Webhooks in headless Chromium: an owner registers an endpoint from the Developer Settings
navigation and sees its signing secret once; the endpoint's page later only says it is set."""

import pytest

from accounts.models import Membership
from tests.helpers import BROWSER_TESTS, PASSWORD
from webhooks.models import WebhookEndpoint

pytestmark = BROWSER_TESTS


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=live_server.url)
    page = context.new_page()
    violations = []
    page.on("console", lambda m: "Content Security Policy" in m.text and violations.append(m.text))
    page.csp_violations = violations
    yield page
    context.close()


def test_an_owner_creates_an_endpoint_and_sees_the_secret_once(page, org, make_user):
    owner = make_user(org, role=Membership.Role.OWNER, email="owner@hooks.example")
    page.goto("/accounts/login/")
    page.get_by_label("Email address").fill(owner.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/settings/developer/")

    page.get_by_role("link", name="Webhooks").click()
    page.wait_for_url("**/settings/developer/webhooks/")
    page.get_by_role("link", name="New endpoint").click()
    page.get_by_label("Endpoint URL").fill("https://hooks.example.com/perceptis")
    page.get_by_label("Test", exact=True).check()
    page.get_by_label("A job succeeded").check()
    page.get_by_role("button", name="Create endpoint").click()
    page.get_by_text("It will not be shown again").wait_for()

    endpoint = WebhookEndpoint.objects.get(organization=org)
    shown = page.locator("#secret-value").inner_text()
    assert shown == endpoint.secret and shown.startswith("whsec_")
    assert (endpoint.environment, endpoint.events) == ("test", ["job.succeeded"])

    page.get_by_role("link", name="I have stored the secret").click()
    page.wait_for_url(f"**/settings/developer/webhooks/{endpoint.public_id}/")
    assert endpoint.secret not in page.content()
    assert page.get_by_text("No deliveries yet.").count() == 1
    assert page.csp_violations == []
