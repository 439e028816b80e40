"""The Jobs page in headless Chromium: an owner opens it from the Developer Settings tabs,
filters the list by key and status, opens a queued job and cancels it with the button.

The pattern of ``tests/accounts/test_members_browser.py``: Debian's ``/usr/bin/chromium``,
skipped with a reason without it; screenshots go to ``artifacts/screenshots/``.
"""

from pathlib import Path

import pytest
from django.conf import settings

from accounts.models import AuditEvent, Membership
from billing.selectors import credits_balance
from jobs.models import Job
from jobs.services import job_run, job_submit
from tests.helpers import BROWSER_TESTS, PASSWORD

SHOTS = Path(settings.BASE_DIR) / "artifacts" / "screenshots"

pytestmark = BROWSER_TESTS


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=live_server.url)
    page = context.new_page()
    errors = []
    page.on("console", lambda m: "Content Security Policy" in m.text and errors.append(m.text))
    page.csp_violations = errors
    yield page
    context.close()


def shot(page, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_an_owner_filters_the_jobs_and_cancels_a_queued_one(page, org, make_user, make_key):
    owner = make_user(org, role=Membership.Role.OWNER, email="owner@jobs.example")
    backend, _ = make_key(org, name="Backend")
    batch, _ = make_key(org, name="Batch")
    done = job_submit(key=backend, prompt="finished already", options={}).job
    job_run(job_id=done.job_id)
    queued = job_submit(key=backend, prompt="still waiting", options={}).job
    other = job_submit(key=batch, prompt="another key's job", options={}).job
    balance = credits_balance(organization=org)

    page.goto("/accounts/login/")
    page.get_by_label("Email address").fill(owner.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/settings/developer/")
    page.get_by_role("link", name="Jobs", exact=True).click()
    page.wait_for_url("**/settings/developer/jobs/")
    for job in (done, queued, other):
        page.get_by_text(job.job_id).wait_for()
    shot(page, "jobs-list")

    page.get_by_label("Key").select_option(backend.key_id)
    page.get_by_label("Status").select_option("queued")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**status=queued**")
    rows = page.locator("table.jobs tbody tr")
    assert rows.count() == 1
    assert queued.job_id in rows.first.inner_text()

    page.get_by_role("link", name=queued.job_id).click()
    page.wait_for_url(f"**/settings/developer/jobs/{queued.job_id}/")
    page.get_by_text("still waiting").wait_for()
    shot(page, "job-detail-queued")
    page.get_by_role("button", name="Cancel job").click()
    page.get_by_text(f"Job {queued.job_id} was canceled").wait_for()
    shot(page, "job-detail-canceled")

    assert page.get_by_role("button", name="Cancel job").count() == 0
    queued.refresh_from_db()
    assert queued.status == Job.Status.CANCELED
    assert credits_balance(organization=org) == balance + queued.credits_reserved
    assert (
        AuditEvent.objects.get(action="job.canceled", target_id=queued.job_id).actor_user == owner
    )
    other.refresh_from_db()
    assert other.status == Job.Status.QUEUED
    assert page.csp_violations == []
