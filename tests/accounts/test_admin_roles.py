"""Who may do what in admin: the Support group, superusers, and staff without a group."""

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.test import Client

from accounts.models import AuditEvent, Project, User
from accounts.projects.services import project_create
from billing.models import LedgerEntry
from tests.helpers import SYSTEM, enable_totp

SUPPORT_PERMISSIONS = {
    "accounts.view_organization",
    "accounts.change_organization",
    "accounts.view_membership",
    "accounts.view_plan",
    "accounts.view_auditevent",
    "accounts.view_invitation",
    "accounts.change_invitation",  # the revoke action, through invitation_revoke
    "apikeys.view_apikey",
    "apikeys.change_apikey",
    "jobs.view_job",
    "jobs.change_job",
    "billing.view_ledgerentry",
    "billing.add_ledgerentry",
    "billing.view_modelprice",
    "billing.view_modelaccess",
    # Read only, as the README says: the request log, hourly usage, alert rules and deliveries.
    "apikeys.view_requestlog",
    "apikeys.view_usagehourly",
    "alerts.view_alertrule",
    "alerts.view_alertdelivery",
    # Read only: webhook endpoints (never their secrets) and their deliveries.
    "webhooks.view_webhookendpoint",
    "webhooks.view_webhookdelivery",
    # Projects: read, and archive (the one action).
    "accounts.view_project",
    "accounts.archive_project",
}
SUPPORT_PAGES = [
    "/admin/accounts/organization/",
    "/admin/accounts/plan/",
    "/admin/accounts/auditevent/",
    "/admin/apikeys/apikey/",
    "/admin/apikeys/apikey/find/",
    "/admin/jobs/job/",
    "/admin/billing/ledgerentry/",
    "/admin/apikeys/requestlog/",
    "/admin/apikeys/usagehourly/",
    "/admin/alerts/alertrule/",
    "/admin/alerts/alertdelivery/",
    "/admin/webhooks/webhookendpoint/",
    "/admin/webhooks/webhookdelivery/",
    "/admin/accounts/project/",
]


@pytest.fixture
def everything(org, live_key, support_user):
    """One of each object: organization, key, job, ledger entry, audit event."""
    from jobs.services import job_submit

    key, _ = live_key
    job = job_submit(key=key, prompt="p").job
    return {
        "organization": org,
        "plan": org.plan,
        "key": key,
        "job": job,
        "ledger": LedgerEntry.objects.filter(account__organization=org).first(),
        "audit": AuditEvent.objects.filter(organization=org).first(),
        "user": support_user,
    }


def _urls(objs):
    return {
        "organization": f"/admin/accounts/organization/{objs['organization'].pk}/",
        "plan": f"/admin/accounts/plan/{objs['plan'].pk}/",
        "key": f"/admin/apikeys/apikey/{objs['key'].pk}/",
        "job": f"/admin/jobs/job/{objs['job'].pk}/",
        "ledger": f"/admin/billing/ledgerentry/{objs['ledger'].pk}/",
        "audit": f"/admin/accounts/auditevent/{objs['audit'].pk}/",
    }


def test_support_group_has_exactly_the_support_permissions(db):
    group = Group.objects.get(name="Support")
    granted = {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.all()}
    assert granted == SUPPORT_PERMISSIONS
    assert not any(p.startswith(("delete_", "auth.")) or ".delete_" in p for p in granted)


def test_support_reads_alert_rules_but_changes_none(support, everything):
    assert support.get("/admin/alerts/alertrule/add/").status_code == 403


def test_support_opens_every_support_page(support, everything):
    for url in SUPPORT_PAGES:
        assert support.get(url).status_code == 200, url
    for url in _urls(everything).values():
        assert support.get(f"{url}change/").status_code == 200, url


def test_support_deletes_nothing(support, everything):
    for name, url in _urls(everything).items():
        assert support.get(f"{url}delete/").status_code == 403, name
        assert support.post(f"{url}delete/", {"post": "yes"}).status_code == 403, name
    assert AuditEvent.objects.filter(pk=everything["audit"].pk).exists()
    assert LedgerEntry.objects.filter(pk=everything["ledger"].pk).exists()


def test_support_has_no_delete_action_anywhere(support, everything):
    for url in SUPPORT_PAGES:
        if url.endswith("find/"):
            continue
        response = support.get(url)
        assert b"delete_selected" not in response.content, url


def test_support_cannot_manage_users_or_change_passwords(support, everything, superuser):
    assert support.get("/admin/accounts/user/").status_code == 403
    for user in (everything["user"], superuser):
        url = f"/admin/accounts/user/{user.pk}/password/"
        assert support.get(url).status_code == 403
        response = support.post(url, {"password1": "n3w-Passw0rd!x", "password2": "n3w-Passw0rd!x"})
        assert response.status_code == 403
        user.refresh_from_db()
        assert not user.check_password("n3w-Passw0rd!x")
    assert support.get("/admin/auth/group/").status_code == 403


def test_support_cannot_add_keys_organizations_plans_or_ledger_entries(support, everything):
    for url in (
        "/admin/apikeys/apikey/add/",
        "/admin/accounts/organization/add/",
        "/admin/accounts/plan/add/",
        "/admin/billing/ledgerentry/add/",
        "/admin/accounts/auditevent/add/",
    ):
        assert support.get(url).status_code == 403, url


def test_support_cannot_edit_the_ledger_or_a_plan(support, everything):
    entry = everything["ledger"]
    response = support.post(
        f"/admin/billing/ledgerentry/{entry.pk}/change/", {"amount": "1000000", "reason": "x"}
    )
    assert response.status_code == 403
    entry.refresh_from_db()
    assert entry.amount != 1000000
    plan = everything["plan"]
    response = support.post(f"/admin/accounts/plan/{plan.pk}/change/", {"monthly_credits": "1"})
    assert response.status_code == 403


def test_nobody_deletes_or_edits_audit_events_or_ledger_entries(root, everything):
    for name in ("audit", "ledger"):
        url = _urls(everything)[name]
        assert root.post(f"{url}delete/", {"post": "yes"}).status_code == 403
        assert root.post(f"{url}change/", {"action": "x"}).status_code == 403
    assert root.get("/admin/billing/ledgerentry/add/").status_code == 403
    assert root.get("/admin/apikeys/apikey/add/").status_code == 403
    assert b"delete_selected" not in root.get("/admin/accounts/auditevent/").content
    assert AuditEvent.objects.filter(pk=everything["audit"].pk).exists()


def test_superuser_opens_everything_and_manages_users(root, everything):
    for url in [*SUPPORT_PAGES, "/admin/accounts/user/", "/admin/auth/group/"]:
        assert root.get(url).status_code == 200, url
    user = everything["user"]
    response = root.post(
        f"/admin/accounts/user/{user.pk}/password/",
        {"password1": "n3w-Passw0rd!x", "password2": "n3w-Passw0rd!x"},
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password("n3w-Passw0rd!x")


def test_superuser_adds_a_staff_user_by_email(root, db):
    response = root.post(
        "/admin/accounts/user/add/",
        {
            "email": "New@Example.com",
            "usable_password": "true",
            "password1": "n3w-Passw0rd!x",
            "password2": "n3w-Passw0rd!x",
        },
    )
    assert response.status_code == 302
    assert User.objects.filter(email__iexact="new@example.com").exists()


def test_staff_without_a_group_sees_nothing(bare, everything):
    index = bare.get("/admin/")
    assert index.status_code == 200
    assert index.context["app_list"] == []
    for url in [*SUPPORT_PAGES, "/admin/accounts/user/"]:
        assert bare.get(url).status_code == 403, url
    for url in _urls(everything).values():
        assert bare.get(f"{url}change/").status_code == 403, url


def test_support_index_lists_only_what_support_works_with(support, db):
    models = {
        m["object_name"]
        for app in support.get("/admin/").context["app_list"]
        for m in app["models"]
    }
    assert models == {
        "Organization",
        "Project",
        "Plan",
        "AuditEvent",
        "Membership",
        "Invitation",
        "ApiKey",
        "Job",
        "LedgerEntry",
        "ModelPrice",
        "RequestLog",
        "UsageHourly",
        "AlertRule",
        "AlertDelivery",
        "WebhookEndpoint",
        "WebhookDelivery",
    }


def test_operator_creates_a_support_user_from_the_command_line(db):
    call_command(
        "create_user",
        "--email",
        "helpdesk@example.com",
        "--password",
        "correct-horse-battery-staple",
        "--staff",
        "--group",
        "Support",
    )
    user = User.objects.get(email="helpdesk@example.com")
    assert user.is_staff and not user.is_superuser
    assert user.memberships.count() == 0
    assert user.has_perm("apikeys.change_apikey")
    enable_totp(user)  # staff need two-factor to use admin
    client = Client()
    assert client.login(email="helpdesk@example.com", password="correct-horse-battery-staple")
    assert client.get("/admin/apikeys/apikey/").status_code == 200
    assert client.get("/admin/accounts/user/").status_code == 403


def test_create_user_refuses_an_unknown_group(db):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command(
            "create_user",
            "--email",
            "x@example.com",
            "--password",
            "correct-horse-battery-staple",
            "--staff",
            "--group",
            "Nope",
        )
    assert not User.objects.filter(email="x@example.com").exists()


def test_createsuperuser_noinput_reads_the_standard_environment(db, monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_EMAIL", "ops@example.com")
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "correct-horse-battery-staple")
    call_command("createsuperuser", "--noinput")
    user = User.objects.get(email="ops@example.com")
    assert user.is_superuser and user.is_staff
    enable_totp(user)  # asked for on first sign-in (tests/accounts/test_two_factor.py)
    client = Client()
    assert client.login(email="ops@example.com", password="correct-horse-battery-staple")
    assert client.get("/admin/accounts/user/").status_code == 200


def test_support_lists_projects_with_spend_and_keys_and_only_archives_them(support, org, live_key):
    empty = project_create(organization=org, name="Empty", actor=SYSTEM)
    page = support.get("/admin/accounts/project/")
    assert page.status_code == 200
    assert empty.project_id in page.content.decode()
    # Read-only: no add, no change, no delete.
    assert support.get("/admin/accounts/project/add/").status_code == 403
    change = support.post(f"/admin/accounts/project/{empty.pk}/change/", {"name": "Renamed"})
    assert change.status_code == 403
    default = Project.objects.get(organization=org, is_default=True)
    response = support.post(
        "/admin/accounts/project/",
        {"action": "archive_projects", "_selected_action": [empty.pk, default.pk]},
    )
    assert response.status_code == 302
    assert Project.objects.get(pk=empty.pk).archived_at is not None
    assert Project.objects.get(pk=default.pk).archived_at is None  # refused: the Default one
    event = AuditEvent.objects.get(action="project.archived")
    assert event.actor_user.email == "support@example.com"
