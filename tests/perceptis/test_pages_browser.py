"""Every page in headless Chromium, on a laptop (1280×800) and a phone (360×740).

An organization with something on every page (keys of each status, jobs, requests, webhook
deliveries, an alert rule, members and an invitation) is toured by its owner; at 360 px no page
may be wider than the screen (the document scrolls down, never sideways). Every page is also
saved as a screenshot in ``artifacts/screenshots/pages/`` at both sizes, to be looked at.

Debian's ``/usr/bin/chromium``; skipped with the reason without it.
"""

from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from accounts.audit import Actor
from accounts.members.services.invitations import invitation_create
from accounts.models import Membership
from accounts.projects.services import project_create
from alerts.models import AlertRule
from apikeys.keys.services.changes import apikey_disable, apikey_revoke
from apikeys.usage.models import RequestLog, UsageHourly
from jobs.services import job_run, job_submit
from tests.helpers import BROWSER_TESTS, PASSWORD, SYSTEM
from webhooks.attempts import attempt_record
from webhooks.models import WebhookDelivery
from webhooks.services import webhookendpoint_create

SHOTS = Path(settings.BASE_DIR) / "artifacts" / "screenshots" / "pages"
PHONE = {"width": 360, "height": 740}
LAPTOP = {"width": 1280, "height": 800}

pytestmark = BROWSER_TESTS


def populate(org, make_user, make_key):
    """Give ``org`` something to show on every page; return the objects the URLs name."""
    owner = make_user(org, role=Membership.Role.OWNER, email="owner.with.a.long.name@tour.example")
    colleague = make_user(org, role=Membership.Role.MEMBER, email="colleague@tour.example")
    backend, _ = make_key(org, name="Backend production service", spend_limit_credits=500)
    make_key(org, name="Staging", type="test")
    disabled, _ = make_key(org, name="Old batch")
    apikey_disable(key=disabled, actor=SYSTEM)
    revoked, _ = make_key(org, name="Leaked laptop key")
    apikey_revoke(key=revoked, actor=SYSTEM)
    done = job_submit(key=backend, prompt="Write a haiku about rate limits", options={}).job
    job_run(job_id=done.job_id)
    queued = job_submit(key=backend, prompt="A long prompt " * 40, options={}).job
    now = timezone.now()
    hour = now.replace(minute=0, second=0, microsecond=0)
    for back in range(0, 30, 3):
        UsageHourly.objects.create(
            organization=org, api_key=backend, hour=hour - timedelta(hours=back),
            requests=10 + back, errors=back % 4, latency_ms_total=(10 + back) * 120,
            latency_b3=10 + back,
        )  # fmt: skip
    for i, (status, code) in enumerate([(200, ""), (429, "rate_limited"), (402, "no_credits")]):
        RequestLog.objects.create(
            organization=org, api_key=backend, method="POST", path="/api/v1/generate",
            status=status, error_code=code, latency_ms=40 + i, client_ip="203.0.113.7",
            user_agent="python-requests/2.32.3", request_id=f"req_01JD7ZC4M2Q8W5N6B3V1X{i}T9K",
            created_at=now - timedelta(minutes=i),
        )  # fmt: skip
    endpoint, _ = webhookendpoint_create(
        organization=org, environment="live", actor=SYSTEM,
        url="https://hooks.example.com/perceptis/receive/a-rather-long-path?token=abcdef",
        events=["job.succeeded", "job.failed", "job.canceled"], description="Order pipeline",
    )  # fmt: skip
    delivery = WebhookDelivery.objects.create(
        endpoint=endpoint, event_type="job.succeeded", attempts=2,
        payload={"type": "job.succeeded", "timestamp": "2026-01-01T00:00:00Z",
                 "data": {"job_id": done.job_id, "status": "succeeded"}},
        next_attempt_at=now + timedelta(minutes=5), last_attempt_at=now,
        last_response_status=503, last_duration_ms=812, last_error="The receiver answered 503.",
    )  # fmt: skip
    attempt_record(
        delivery=delivery, number=2, finished_at=now, duration_ms=812, response_status=503,
        response_body=b'{"error": "upstream unavailable", "retry": true}',
        error="The receiver answered HTTP 503.",
    )  # fmt: skip
    rule = AlertRule.objects.create(
        organization=org, name="Errors on the backend key", metric="error_rate", threshold=5,
        window_minutes=60, api_key=backend, channel="email", destination="ops@tour.example",
    )  # fmt: skip
    invitation_create(
        organization=org, email="new.person@tour.example", role=Membership.Role.ADMIN,
        actor=Actor.system("tour"), base_url="http://testserver",
    )  # fmt: skip
    colleague_membership = Membership.objects.get(organization=org, user=colleague)
    project = project_create(
        organization=org, name="Mobile app with a long name", monthly_spend_limit=5000,
        rate_limit_ceiling=120, actor=SYSTEM,
    )  # fmt: skip
    make_key(org, name="Mobile backend", project=project)
    return {
        "project": project,
        "owner": owner,
        "backend": backend,
        "revoked": revoked,
        "done": done,
        "queued": queued,
        "endpoint": endpoint,
        "delivery": delivery,
        "rule": rule,
        "colleague": colleague_membership,
        "request": RequestLog.objects.filter(organization=org).order_by("pk").first(),
    }


def signed_in_pages(o) -> dict[str, str]:
    """Return every signed-in page a person reaches with a GET, by a short name."""
    key, endpoint = o["backend"].key_id, o["endpoint"].public_id
    return {
        "keys": reverse("developer-settings"),
        "projects": reverse("developer-projects"),
        "project-detail": reverse("developer-project", args=[o["project"].project_id]),
        "key-create": reverse("developer-key-create"),
        "key-detail": reverse("developer-key", args=[key]),
        "key-rotate": reverse("developer-key-rotate", args=[key]),
        "key-revoke": reverse("developer-key-revoke", args=[key]),
        "key-delete": reverse("developer-key-delete", args=[o["revoked"].key_id]),
        "usage": reverse("developer-usage"),
        "requests": reverse("developer-requests"),
        "request-detail": reverse("developer-request", args=[o["request"].pk]),
        "activity": reverse("developer-activity"),
        "spend": reverse("developer-spend"),
        "jobs": reverse("developer-jobs"),
        "job-done": reverse("developer-job", args=[o["done"].job_id]),
        "job-queued": reverse("developer-job", args=[o["queued"].job_id]),
        "alerts": reverse("developer-alerts"),
        "alert-create": reverse("developer-alert-create"),
        "alert-edit": reverse("developer-alert-edit", args=[o["rule"].pk]),
        "alert-delete": reverse("developer-alert-delete", args=[o["rule"].pk]),
        "webhooks": reverse("developer-webhooks"),
        "webhook-create": reverse("developer-webhook-create"),
        "webhook-detail": reverse("developer-webhook", args=[endpoint]),
        "webhook-edit": reverse("developer-webhook-edit", args=[endpoint]),
        "webhook-rotate": reverse("developer-webhook-rotate", args=[endpoint]),
        "webhook-delete": reverse("developer-webhook-delete", args=[endpoint]),
        "webhook-delivery": reverse(
            "developer-webhook-delivery", args=[endpoint, o["delivery"].public_id]
        ),
        "members": reverse("developer-members"),
        "member-remove": reverse("developer-member-remove", args=[o["colleague"].pk]),
        "member-transfer": reverse("developer-member-transfer", args=[o["colleague"].pk]),
        "account": reverse("account"),
        "password-change": reverse("account_change_password"),
        "sessions": reverse("usersessions_list"),
        "two-factor": reverse("mfa_index"),
        "two-factor-setup": reverse("mfa_activate_totp"),
        "reauthenticate": reverse("account_reauthenticate"),
    }


SIGNED_OUT_PAGES = {
    "sign-in": "/accounts/login/",
    "password-reset": "/accounts/password/reset/",
    "password-reset-done": "/accounts/password/reset/done/",
}


def sign_in(page, email):
    page.goto("/accounts/login/")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/settings/developer/")


def document_width(page) -> int:
    return page.evaluate(
        "Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)"
    )


def visit(page, name, url, size):
    """Load ``url``; save its screenshot; return the document's width."""
    response = page.goto(url)
    assert response.status == 200, f"{name} ({url}) answered {response.status}"
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}-{size['width']}.png"), full_page=True)
    return document_width(page)


@pytest.fixture
def tour(browser, live_server, org, make_user, make_key):
    objects = populate(org, make_user, make_key)

    def open_context(size):
        context = browser.new_context(viewport=size, base_url=live_server.url)
        return context, context.new_page()

    return objects, open_context


def test_no_page_is_wider_than_a_phone(tour):
    objects, open_context = tour
    context, page = open_context(PHONE)
    too_wide = {}
    for name, url in SIGNED_OUT_PAGES.items():
        if (width := visit(page, name, url, PHONE)) > PHONE["width"]:
            too_wide[name] = width
    sign_in(page, objects["owner"].email)
    for name, url in signed_in_pages(objects).items():
        if (width := visit(page, name, url, PHONE)) > PHONE["width"]:
            too_wide[name] = width
    context.close()
    assert too_wide == {}, sorted(too_wide.items())


def test_every_page_renders_on_a_laptop(tour):
    objects, open_context = tour
    context, page = open_context(LAPTOP)
    for name, url in SIGNED_OUT_PAGES.items():
        visit(page, name, url, LAPTOP)
    sign_in(page, objects["owner"].email)
    for name, url in signed_in_pages(objects).items():
        assert visit(page, name, url, LAPTOP) <= LAPTOP["width"], name
    context.close()
