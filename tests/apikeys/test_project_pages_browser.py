"""A project admin in headless Chromium: signs in, sees one project, creates a key there, and
cannot open another project's page (Debian's ``/usr/bin/chromium``; skipped without it)."""

import re

import pytest

from accounts.models import Membership
from accounts.projects.selectors import project_default
from accounts.projects.services import project_admin_grant, project_create
from apikeys.keys.models import ApiKey
from tests.helpers import BROWSER_TESTS, PASSWORD, SYSTEM

pytestmark = BROWSER_TESTS


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=live_server.url)
    page = context.new_page()
    yield page
    context.close()


def test_a_project_admin_sees_one_project_creates_a_key_there_and_nothing_else(
    page, org, make_user, make_key
):
    web = project_create(organization=org, name="Web shop", actor=SYSTEM)
    mobile = project_create(organization=org, name="Mobile app", actor=SYSTEM)
    make_key(org, name="Mobile key", project=mobile)
    user = make_user(org, role=Membership.Role.MEMBER, email="contractor@acme.example")
    project_admin_grant(project=web, membership=Membership.objects.get(user=user), actor=SYSTEM)

    page.goto("/accounts/login/")
    page.get_by_label("Email address").fill(user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/settings/developer/")
    # The key table shows no other project's key, and the organization's pages are not offered.
    assert "Mobile key" not in page.content()
    assert page.get_by_role("link", name="Usage & credits").count() == 0

    page.get_by_role("link", name="Projects", exact=True).click()
    page.wait_for_url("**/settings/developer/projects/")
    rows = page.locator("table.projects tbody tr")
    assert rows.count() == 1
    assert "Web shop" in rows.first.inner_text()
    assert "Mobile app" not in page.content()
    assert project_default(organization=org).project_id not in page.content()

    rows.first.get_by_role("link", name="Web shop").click()
    page.wait_for_url(f"**/projects/{web.project_id}/")
    page.get_by_role("link", name="Create key in this project").click()
    page.wait_for_url("**/keys/new/**")
    page.get_by_label("Name").fill("Checkout worker")
    page.get_by_role("button", name="Create key").click()
    secret = page.locator("#secret-value")
    secret.wait_for()
    assert re.fullmatch(r"sk-live-per-[A-Za-z0-9_-]+", secret.inner_text().strip())
    key = ApiKey.objects.get(name="Checkout worker")
    assert key.project_id == web.project_id and key.created_by == user

    response = page.goto(f"/settings/developer/projects/{mobile.project_id}/")
    assert response.status == 404
    response = page.goto("/settings/developer/usage/")
    assert response.status == 403
