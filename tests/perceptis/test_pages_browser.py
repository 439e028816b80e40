"""Every page in headless Chromium, on a laptop (1280×800) and a phone (360×740).

An organization with something on every page (keys of each status, jobs, requests, webhook
deliveries, an alert rule, members and an invitation) is toured by its owner, and the admin
pages Support works in by a Support member; at 360 px no page may be wider than the screen (the
document scrolls down, never sideways). Every page is also saved as a screenshot in
``artifacts/screenshots/pages/`` at both sizes, to be looked at.

At both sizes every page is also measured for the accessibility basics (``page_audit.js``, run
in the page): the contrast of each visible text, and of each control's text while it has
keyboard focus (4.5:1, 3:1 for large text; disabled controls excepted, as WCAG does), a visible
outline on focus, and a label for every input, select and textarea.

Debian's ``/usr/bin/chromium``; skipped with the reason without it.
"""

from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse, reverse_lazy
from django.utils import timezone

from accounts.audit import Actor
from accounts.members.services.invitations import invitation_create
from accounts.models import Membership
from accounts.projects.services import project_create
from alerts.models import AlertDelivery, AlertRule
from apikeys.keys.services.changes import apikey_disable, apikey_revoke
from apikeys.usage.models import RequestLog, UsageHourly
from jobs.services import job_run, job_submit
from tests.helpers import BROWSER_TESTS, PASSWORD, SYSTEM, enable_totp
from webhooks.attempts import attempt_record
from webhooks.models import WebhookDelivery
from webhooks.services import webhookendpoint_create

SHOTS = Path(settings.BASE_DIR) / "artifacts" / "screenshots" / "pages"
AUDIT = (Path(__file__).parent / "page_audit.js").read_text()
PHONE = {"width": 360, "height": 740}
LAPTOP = {"width": 1280, "height": 800}

pytestmark = BROWSER_TESTS


def populate(org, make_user, make_key):
    """Give ``org`` something to show on every page; return the objects the URLs name."""
    owner = make_user(org, role=Membership.Role.OWNER, email="owner.with.a.long.name@tour.example")
    colleague = make_user(org, role=Membership.Role.MEMBER, email="colleague@tour.example")
    backend, backend_plaintext = make_key(
        org, name="Backend production service", spend_limit_credits=500
    )
    staging, _ = make_key(org, name="Staging", type="test")
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
    AlertDelivery.objects.create(
        rule=rule, window_start=hour, value=7.5, message="Error rate 7.5% above 5%",
        attempts=1, next_attempt_at=now + timedelta(minutes=2),
        last_error="The receiver answered HTTP 502.",
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
        "org": org,
        "backend_plaintext": backend_plaintext,
        "unused": staging,
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
        "key-detail-unused": reverse("developer-key", args=[o["unused"].key_id]),
        "key-edit": reverse("developer-key-edit", args=[key]),
        "key-disable": reverse("developer-key-disable", args=[key]),
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


# An organization with nothing yet: each page's empty state says what to do next.
EMPTY_PAGES = {
    "empty-keys": reverse_lazy("developer-settings"),
    "empty-usage": reverse_lazy("developer-usage"),
    "empty-requests": reverse_lazy("developer-requests"),
    "empty-jobs": reverse_lazy("developer-jobs"),
    "empty-spend": reverse_lazy("developer-spend"),
    "empty-alerts": reverse_lazy("developer-alerts"),
    "empty-webhooks": reverse_lazy("developer-webhooks"),
}

SIGNED_OUT_PAGES = {
    "sign-in": "/accounts/login/",
    "password-reset": "/accounts/password/reset/",
    "password-reset-done": "/accounts/password/reset/done/",
}


def support_pages(o) -> dict[str, str]:
    """Return the admin pages Support works in: organizations, keys, jobs and Find key."""
    return {
        "admin-home": reverse("admin:index"),
        "admin-organizations": reverse("admin:accounts_organization_changelist"),
        "admin-organization": reverse("admin:accounts_organization_change", args=[o["org"].pk]),
        "admin-keys": reverse("admin:apikeys_apikey_changelist"),
        "admin-key": reverse("admin:apikeys_apikey_change", args=[o["backend"].pk]),
        "admin-find-key": reverse("admin:apikeys_apikey_find"),
        "admin-jobs": reverse("admin:jobs_job_changelist"),
        "admin-job": reverse("admin:jobs_job_change", args=[o["done"].pk]),
    }


def sign_in(page, email):
    page.goto("/accounts/login/")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/settings/developer/")


def visit(page, name, url, size):
    """Load ``url`` and save its screenshot."""
    response = page.goto(url)
    assert response.status == 200, f"{name} ({url}) answered {response.status}"
    screenshot(page, name, size)


def screenshot(page, name, size):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}-{size['width']}.png"), full_page=True)


def find_a_key(page, plaintext):
    """Paste a key into admin's Find key, as Support does, and wait for the answer."""
    page.get_by_label("API key").fill(plaintext)
    page.get_by_role("button", name="Find key").click()
    page.locator("#find-key-result").wait_for()


@pytest.fixture
def tour(browser, live_server, org, make_org, make_user, make_key, support_user):
    """Return ``walk(size)``: every page at ``size`` (signed out, then as the organization's
    owner, then as the owner of an organization with nothing yet, then as Support in admin),
    each loaded and saved; it yields ``(name, page)``."""
    objects = populate(org, make_user, make_key)
    newcomer = make_user(make_org(), role=Membership.Role.OWNER, email="new.owner@tour.example")
    # Support signs in to admin with two-factor; the browser gets the session it ends with.
    enable_totp(support_user)
    staff = Client()
    staff.force_login(support_user)
    staff_session = staff.cookies[settings.SESSION_COOKIE_NAME].value

    def walk(size):
        context = browser.new_context(viewport=size, base_url=live_server.url)
        page = context.new_page()
        for name, url in SIGNED_OUT_PAGES.items():
            visit(page, name, url, size)
            yield name, page
        sign_in(page, objects["owner"].email)
        for name, url in signed_in_pages(objects).items():
            visit(page, name, url, size)
            yield name, page
        context.close()

        context = browser.new_context(viewport=size, base_url=live_server.url)
        page = context.new_page()
        sign_in(page, newcomer.email)
        for name, url in EMPTY_PAGES.items():
            visit(page, name, str(url), size)
            yield name, page
        context.close()

        context = browser.new_context(viewport=size, base_url=live_server.url)
        context.add_cookies(
            [{"name": settings.SESSION_COOKIE_NAME, "value": staff_session, "url": live_server.url}]
        )
        page = context.new_page()
        for name, url in support_pages(objects).items():
            visit(page, name, url, size)
            yield name, page
        page.goto(reverse("admin:apikeys_apikey_find"))
        find_a_key(page, objects["backend_plaintext"])
        screenshot(page, "admin-find-key-result", size)
        yield "admin-find-key-result", page
        context.close()

    return walk


def document_width(page) -> int:
    return page.evaluate(
        "Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)"
    )


def test_no_page_is_wider_than_a_phone(tour):
    too_wide = {}
    for name, page in tour(PHONE):
        if (width := document_width(page)) > PHONE["width"]:
            too_wide[name] = width
    assert too_wide == {}, sorted(too_wide.items())


def test_every_page_renders_on_a_laptop(tour):
    too_wide = {}
    for name, page in tour(LAPTOP):
        if (width := document_width(page)) > LAPTOP["width"]:
            too_wide[name] = width
    assert too_wide == {}, sorted(too_wide.items())


@pytest.mark.parametrize("size", [PHONE, LAPTOP], ids=["phone", "laptop"])
def test_every_page_has_readable_text_labelled_controls_and_visible_focus(tour, size):
    problems = []
    for name, page in tour(size):
        problems += [f"{name}: {problem}" for problem in page.evaluate(AUDIT)]
    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize("size", [PHONE, LAPTOP], ids=["phone", "laptop"])
def test_every_page_uses_the_design_system_not_browser_controls_colons_or_title_case(tour, size):
    problems = []
    for name, page in tour(size):
        if name.startswith("admin-"):
            continue  # Support's admin keeps Django's own look
        checks = {"access": False, "design": True}
        problems += [f"{name}: {problem}" for problem in page.evaluate(AUDIT, checks)]
    assert problems == [], "\n".join(problems)


FLAWED_PAGE = """<!doctype html><html><head><style>
  .faint { color: #999; }
  .large { color: #949494; font-size: 24px; }
  .veil { background: rgba(0, 0, 0, .5); } .veil span { color: #444; }
  button.ringless:focus { outline: none; }
  a.fades:focus-visible { color: #ddd; }
  button[disabled] { color: #ddd; }
</style></head><body>
  <p class="faint">Faint words</p>
  <p class="large">Large grey words</p>
  <div class="veil"><span>Veiled words</span></div>
  <input id="orphan" type="text">
  <button class="ringless">No ring</button>
  <a class="fades" href="#">Fades on focus</a>
  <button disabled>Disabled</button>
  <label for="named">Named</label><input id="named" type="text">
</body></html>"""


def test_the_page_audit_names_each_flaw_and_passes_what_wcag_allows(browser):
    context = browser.new_context(viewport=LAPTOP)
    page = context.new_page()
    page.set_content(FLAWED_PAGE)
    problems = page.evaluate(AUDIT)
    context.close()

    assert any('p.faint "Faint words" text #999999 on #ffffff is 2.85:1' in p for p in problems)
    assert any("Veiled words" in p and "on #808080" in p for p in problems)
    assert any(p.startswith("label: input#orphan") for p in problems)
    assert any(p.startswith('focus: button.ringless "No ring" shows no outline') for p in problems)
    assert any(p.startswith('contrast (focused): a.fades "Fades on focus"') for p in problems)
    assert len(problems) == 5, problems  # not the large text, the disabled button, the label


UNDESIGNED_PAGE = """<!doctype html><html><body>
  <h1>Reset My Password</h1>
  <label for="email">Email:</label><input id="email" type="email">
  <select aria-label="Plan"><option>Free</option></select>
  <button>Send</button>
  <h2>Two-factor for Org 7</h2><h2>API keys</h2><h2>Key ID</h2>
</body></html>"""


def test_the_design_audit_names_browser_controls_colons_and_title_case(browser):
    context = browser.new_context(viewport=LAPTOP)
    page = context.new_page()
    page.set_content(UNDESIGNED_PAGE)
    problems = page.evaluate(AUDIT, {"access": False, "design": True})
    context.close()

    assert sorted(problems) == sorted(
        [
            'design: h1 "Reset My Password" is in title case, not sentence case',
            'design: label "Email:" ends with a colon',
            "design: input#email is a browser-default control",
            'design: select "Free" is a browser-default control',
            'design: button "Send" is a browser-default control',
        ]
    )
