"""Webhook tools in headless Chromium: an owner sends a test event from the endpoint's page,
opens the delivery (payload, attempt, response body) and resends it; the receiver gets both
attempts with the same ``webhook-id``, signed with the endpoint's secret."""

import pytest
from standardwebhooks.webhooks import Webhook

from accounts.models import Membership
from tests.helpers import BROWSER_TESTS, PASSWORD, SYSTEM
from tests.webhooks.test_job_webhook_delivery import run_outbound_queue
from webhooks.models import WebhookDelivery
from webhooks.services import webhookendpoint_create

pytestmark = BROWSER_TESTS


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(viewport={"width": 360, "height": 740}, base_url=live_server.url)
    page = context.new_page()
    violations = []
    page.on("console", lambda m: "Content Security Policy" in m.text and violations.append(m.text))
    page.csp_violations = violations
    yield page
    context.close()


def test_an_owner_sends_a_test_event_and_resends_it(page, org, make_user, receiver):
    owner = make_user(org, role=Membership.Role.OWNER, email="owner@tools.example")
    endpoint, secret = webhookendpoint_create(
        organization=org, environment="live", actor=SYSTEM, url=receiver.url,
        events=["job.succeeded"], description="Receiver",
    )  # fmt: skip
    receiver.replies = [(500, 0), (200, 0)]
    page.goto("/accounts/login/")
    page.get_by_label("Email address").fill(owner.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/settings/developer/")

    page.goto(f"/settings/developer/webhooks/{endpoint.public_id}/")
    page.get_by_role("button", name="Send test event").click()
    page.get_by_text("Test event queued").wait_for()
    assert run_outbound_queue() == 1
    page.reload()
    page.get_by_text("Retrying").first.wait_for()
    assert page.get_by_text("HTTP 500").count() >= 1
    assert page.get_by_text('"webhook.test"').count() == 1  # the payload

    page.get_by_role("button", name="Retry now").click()
    page.get_by_text("Delivery queued again").wait_for()
    assert run_outbound_queue() == 1
    page.reload()
    page.get_by_text("Succeeded").first.wait_for()
    assert page.evaluate("document.documentElement.scrollWidth") <= 360

    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    assert [r["headers"]["webhook-id"] for r in receiver.requests] == [delivery.public_id] * 2
    for request in receiver.requests:
        assert Webhook(secret).verify(request["body"], request["headers"])["type"] == "webhook.test"
    assert page.csp_violations == []
