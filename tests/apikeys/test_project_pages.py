"""The project pages and the project admin role: owners and admins manage every project, a
project admin manages their project's keys and sees nothing of the others (404/403), and
removing the role applies to the next request."""

import re

import pytest

from accounts.models import AuditEvent, Membership, Project
from accounts.projects.selectors import project_default
from accounts.projects.services import (
    project_admin_grant,
    project_admin_revoke,
    project_create,
)
from apikeys.keys.models import ApiKey
from billing.models import LedgerEntry
from tests.helpers import SYSTEM


@pytest.fixture
def web_project(org):
    return project_create(organization=org, name="Web", actor=SYSTEM)


@pytest.fixture
def mobile_project(org):
    return project_create(organization=org, name="Mobile", actor=SYSTEM)


@pytest.fixture
def project_admin(org, make_user, web_project):
    user = make_user(org, role=Membership.Role.MEMBER)
    project_admin_grant(
        project=web_project, membership=Membership.objects.get(user=user), actor=SYSTEM
    )
    return user


@pytest.fixture
def contractor(signed_in, project_admin):
    return signed_in(project_admin)


def nonce_of(page) -> str:
    return re.search(rb'name="nonce" value="([^"]+)"', page.content).group(1).decode()


def create_form(client, page_project: str, **overrides) -> dict:
    page = client.get(f"/settings/developer/keys/new/?project={page_project}")
    assert page.status_code == 200
    return {
        "nonce": nonce_of(page),
        "name": "Contractor key",
        "type": "live",
        "environment": "production",
        "permissions": ["jobs:write", "jobs:read"],
        "project": page_project,
        **overrides,
    }


# --- owners and admins -------------------------------------------------------------------------


def test_the_projects_page_lists_every_project_and_sums_their_spend(
    web, org, web_project, mobile_project, make_key, client_for
):
    _, plaintext = make_key(org, project=web_project)
    body = {"prompt": "p", "options": {"model": "gpt-4o", "max_tokens": 1000}}
    assert client_for(plaintext).post("/api/v1/generate", body, format="json").status_code == 202
    page = web.get("/settings/developer/projects/").content.decode()
    for project in (project_default(organization=org), web_project, mobile_project):
        assert project.project_id in page
    assert 'data-stat="total">5<' in page


def test_an_owner_creates_a_project_from_the_page(web, org):
    response = web.post(
        "/settings/developer/projects/new/",
        {"name": "Data", "monthly_spend_limit": "300", "rate_limit_ceiling": ""},
    )
    project = Project.objects.get(organization=org, name="Data")
    assert response.status_code == 302
    assert project.monthly_spend_limit == 300
    assert AuditEvent.objects.filter(action="project.created", target_id=project.project_id)


def test_the_project_cap_is_explained_on_the_page(web, org):
    for n in range(9):
        project_create(organization=org, name=f"P{n}", actor=SYSTEM)
    response = web.post("/settings/developer/projects/new/", {"name": "Eleventh"})
    assert response.status_code == 400
    assert "allows 10 open projects" in response.content.decode()
    assert not Project.objects.filter(name="Eleventh").exists()


def test_an_owner_changes_limits_and_archives_only_once_keys_are_revoked(
    web, org, web_project, make_key
):
    url = f"/settings/developer/projects/{web_project.project_id}/"
    response = web.post(
        url + "settings/",
        {"name": "Website", "monthly_spend_limit": "50", "rate_limit_ceiling": "9"},
    )
    assert response.status_code == 302
    web_project.refresh_from_db()
    assert (web_project.name, web_project.monthly_spend_limit, web_project.rate_limit_ceiling) == (
        "Website",
        50,
        9,
    )
    key, _ = make_key(org, project=web_project)
    web.post(url + "archive/")
    assert Project.objects.get(pk=web_project.pk).archived_at is None
    web.post(f"/settings/developer/keys/{key.key_id}/revoke/")
    web.post(url + "archive/")
    assert Project.objects.get(pk=web_project.pk).archived_at is not None


def test_a_project_page_shows_its_keys_usage_spend_and_settings(web, org, web_project, make_key):
    key, _ = make_key(org, project=web_project, name="Web key")
    other, _ = make_key(org, name="Default key")
    page = web.get(f"/settings/developer/projects/{web_project.project_id}/").content.decode()
    assert key.key_id in page and other.key_id not in page
    for heading in ("Keys", "Usage", "Spend", "Settings"):
        assert f">{heading}</h2>" in page


def test_the_key_table_filters_by_project(web, org, web_project, make_key):
    key, _ = make_key(org, project=web_project)
    other, _ = make_key(org)
    page = web.get(f"/settings/developer/?project={web_project.project_id}").content.decode()
    assert key.key_id in page and other.key_id not in page


def test_the_ledger_csv_filters_by_project(web, org, web_project, make_key, client_for):
    from jobs.tasks import run_job

    _, in_web = make_key(org, project=web_project)
    _, in_default = make_key(org)
    for plaintext in (in_web, in_default):
        job = client_for(plaintext).post("/api/v1/generate", {"prompt": "p"}, format="json")
        run_job(job.json()["job_id"])
    web_job = LedgerEntry.objects.get(project=web_project, kind="capture").job_ref
    csv = b"".join(
        web.get(f"/settings/developer/spend/ledger.csv?project={web_project.project_id}")
    ).decode()
    rows = csv.strip().splitlines()[1:]
    assert len(rows) == 1 and web_job in rows[0]
    everything = b"".join(web.get("/settings/developer/spend/ledger.csv")).decode()
    assert len(everything.strip().splitlines()) == 1 + 3  # two jobs and the opening grant


# --- project admins ----------------------------------------------------------------------------


def test_a_project_admin_sees_one_project_and_creates_a_key_there(
    contractor, org, web_project, mobile_project, project_admin
):
    index = contractor.get("/settings/developer/projects/").content.decode()
    assert web_project.project_id in index
    assert mobile_project.project_id not in index
    assert project_default(organization=org).project_id not in index

    response = contractor.post(
        "/settings/developer/keys/new/", create_form(contractor, web_project.project_id)
    )

    assert response.status_code == 200
    key = ApiKey.objects.get(name="Contractor key")
    assert key.project_id == web_project.project_id and key.created_by == project_admin


@pytest.mark.parametrize("target", ["mobile", "default", "none"])
def test_a_project_admin_cannot_create_a_key_in_another_project(
    contractor, org, web_project, mobile_project, target
):
    project = {
        "mobile": mobile_project.project_id,
        "default": project_default(organization=org).project_id,
        "none": "",
    }[target]
    form = create_form(contractor, web_project.project_id, project=project)
    response = contractor.post("/settings/developer/keys/new/", form)
    assert response.status_code == 400
    assert not ApiKey.objects.filter(name="Contractor key").exists()


def test_a_project_admin_gets_404_for_another_projects_pages_and_keys(
    contractor, org, mobile_project, make_key
):
    other, _ = make_key(org, project=mobile_project)
    before = ApiKey.objects.values().get(pk=other.pk)
    gets = [
        f"/settings/developer/projects/{mobile_project.project_id}/",
        f"/settings/developer/keys/{other.key_id}/",
        f"/settings/developer/keys/{other.key_id}/edit/",
        f"/settings/developer/keys/{other.key_id}/rotate/",
        f"/settings/developer/spend/ledger.csv?project={mobile_project.project_id}",
        "/settings/developer/spend/ledger.csv",
    ]
    assert [contractor.get(url).status_code for url in gets] == [404] * len(gets)
    posts = [
        f"/settings/developer/keys/{other.key_id}/{action}/"
        for action in ("revoke", "disable", "enable", "rotate", "edit", "rename", "delete")
    ]
    assert [contractor.post(url, {"name": "x"}).status_code for url in posts] == [404] * len(posts)
    assert ApiKey.objects.values().get(pk=other.pk) == before


def test_a_project_admin_cannot_see_the_organizations_pages_nor_change_projects(
    contractor, web_project
):
    for url in (
        "/settings/developer/usage/",
        "/settings/developer/spend/",
        "/settings/developer/jobs/",
        "/settings/developer/requests/",
        "/settings/developer/members/",
        "/settings/developer/webhooks/",
        "/settings/developer/activity/",
    ):
        assert contractor.get(url).status_code == 403, url
    url = f"/settings/developer/projects/{web_project.project_id}/"
    assert (
        contractor.post(url + "settings/", {"name": "Mine", "monthly_spend_limit": ""}).status_code
        == 403
    )
    assert contractor.post(url + "archive/").status_code == 403
    assert contractor.post("/settings/developer/projects/new/", {"name": "More"}).status_code == 403
    web_project.refresh_from_db()
    assert web_project.name == "Web" and web_project.archived_at is None


def test_a_project_admin_manages_their_projects_keys(contractor, org, web_project, make_key):
    key, _ = make_key(org, project=web_project)
    assert contractor.get(f"/settings/developer/keys/{key.key_id}/").status_code == 200
    contractor.post(f"/settings/developer/keys/{key.key_id}/disable/")
    assert ApiKey.objects.get(pk=key.pk).status == "inactive"
    contractor.post(f"/settings/developer/keys/{key.key_id}/revoke/")
    assert ApiKey.objects.get(pk=key.pk).status == "revoked"


def test_removing_the_role_applies_to_the_next_request(
    contractor, org, web_project, project_admin, make_key
):
    key, _ = make_key(org, project=web_project)
    url = f"/settings/developer/keys/{key.key_id}/"
    assert contractor.get(url).status_code == 200
    project_admin_revoke(
        project=web_project, membership=Membership.objects.get(user=project_admin), actor=SYSTEM
    )
    # A plain member again: reads, changes nothing.
    assert contractor.post(url + "disable/").status_code == 403
    assert ApiKey.objects.get(pk=key.pk).status == "active"


def test_an_owner_grants_and_removes_the_role_on_the_page(web, org, web_project, make_user):
    user = make_user(org, role=Membership.Role.MEMBER)
    membership = Membership.objects.get(user=user)
    url = f"/settings/developer/projects/{web_project.project_id}/admins/"
    assert web.post(url, {"membership": membership.pk}).status_code == 302
    assert web_project.admins.filter(membership=membership).exists()
    assert web.post(f"{url}{membership.pk}/remove/").status_code == 302
    assert not web_project.admins.exists()
    assert AuditEvent.objects.filter(action="project.admin_granted").count() == 1
    assert AuditEvent.objects.filter(action="project.admin_revoked").count() == 1


def test_a_member_cannot_grant_the_role(signed_in, member, org, web_project):
    client = signed_in(member)
    url = f"/settings/developer/projects/{web_project.project_id}/admins/"
    membership = Membership.objects.get(user=member)
    assert client.post(url, {"membership": membership.pk}).status_code == 403
    assert not web_project.admins.exists()


def test_another_organizations_project_is_404(web, make_org):
    other = project_default(organization=make_org())
    assert web.get(f"/settings/developer/projects/{other.project_id}/").status_code == 404


def _edit_form(key, project_id) -> dict:
    return {
        "project": project_id,
        "name": key.name,
        "permissions": list(key.permissions),
        "rate_limit_per_minute": "",
        "expires_at": "",
        "ip_allowlist": "",
        "spend_limit_credits": "",
        "spend_limit_period": "month",
    }


def test_an_owner_moves_a_key_to_another_project_on_its_edit_page(web, org, web_project, make_key):
    key, _ = make_key(org)
    response = web.post(
        f"/settings/developer/keys/{key.key_id}/edit/", _edit_form(key, web_project.project_id)
    )
    assert response.status_code == 302
    assert ApiKey.objects.get(pk=key.pk).project_id == web_project.project_id
    assert AuditEvent.objects.filter(action="api_key.moved", target_id=key.key_id).exists()


def test_a_project_admin_cannot_move_a_key_out_of_their_projects(
    contractor, org, web_project, mobile_project, make_key
):
    key, _ = make_key(org, project=web_project)
    for target in (mobile_project.project_id, project_default(organization=org).project_id):
        response = contractor.post(
            f"/settings/developer/keys/{key.key_id}/edit/", _edit_form(key, target)
        )
        assert response.status_code == 400
        assert ApiKey.objects.get(pk=key.pk).project_id == web_project.project_id
    assert not AuditEvent.objects.filter(action="api_key.moved").exists()
