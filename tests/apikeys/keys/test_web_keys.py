"""The key table, creating keys and every action on a key, as owners, admins and members."""

import re
from datetime import timedelta

import pytest
from django.contrib.sessions.models import Session
from django.utils import timezone

from accounts.models import AuditEvent, Membership
from apikeys.keys import keyformat
from apikeys.keys.models import ApiKey, KeySecret
from apikeys.keys.services import apikey_disable, apikey_revoke
from tests.helpers import SYSTEM

KEY_RE = re.compile(rb"sk-(?:live|test)-per-[A-Za-z0-9_-]+")


def create_page_nonce(client) -> str:
    page = client.get("/settings/developer/keys/new/")
    assert page.status_code == 200
    return re.search(rb'name="nonce" value="([^"]+)"', page.content).group(1).decode()


def create_form(client, **overrides) -> dict:
    data = {
        "nonce": create_page_nonce(client),
        "name": "Billing service",
        "type": "live",
        "environment": "production",
        "permissions": ["jobs:write", "jobs:read"],
        "rate_limit_per_minute": "",
        "expires_at": "",
        "ip_allowlist": "",
    }
    data.update(overrides)
    return data


def plaintext_in(response) -> str:
    match = KEY_RE.search(response.content)
    assert match, "no key on the page"
    return match.group(0).decode()


# --- The table -------------------------------------------------------------------------------


def test_key_table_shows_every_column(web, org, make_key, owner):
    key, plaintext = make_key(
        org,
        name="Reporting",
        actor=SYSTEM.__class__(user=owner),
        type="test",
        environment="staging",
        permissions=["jobs:read", "usage:read"],
        expires_at=timezone.now() + timedelta(days=30),
    )
    ApiKey.objects.filter(pk=key.pk).update(last_used_at=timezone.now(), last_used_ip="203.0.113.7")
    page = web.get("/settings/developer/").content.decode()
    for text in [
        "Reporting",
        key.key_id,
        key.hint,
        "Test",
        "Staging",
        "jobs:read",
        "usage:read",
        owner.email,
        "203.0.113.7",
        key.expires_at.strftime("%Y-%m-%d"),
        "Active",
    ]:
        assert text in page, text
    assert plaintext not in page


def test_key_table_shows_derived_status(web, org, make_key):
    disabled, _ = make_key(org, name="Paused")
    apikey_disable(key=disabled, actor=SYSTEM)
    expired, _ = make_key(org, name="Old", expires_at=timezone.now() + timedelta(seconds=5))
    ApiKey.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(days=1))
    page = web.get("/settings/developer/").content.decode()
    assert "badge-inactive" in page
    assert "badge-expired" in page


def names_in_order(response) -> list[str]:
    return re.findall(r'class="key-name">([^<]+)<', response.content.decode())


def test_key_table_sorts_by_column_both_ways(web, org, make_key):
    for name in ["Bravo", "Alpha", "Charlie"]:
        make_key(org, name=name)
    assert names_in_order(web.get("/settings/developer/")) == ["Charlie", "Alpha", "Bravo"]
    assert names_in_order(web.get("/settings/developer/?sort=name")) == [
        "Alpha",
        "Bravo",
        "Charlie",
    ]
    assert names_in_order(web.get("/settings/developer/?sort=-name")) == [
        "Charlie",
        "Bravo",
        "Alpha",
    ]
    # A nonsense sort falls back to newest first instead of failing.
    response = web.get("/settings/developer/?sort=secret_hash")
    assert response.status_code == 200
    assert names_in_order(response) == ["Charlie", "Alpha", "Bravo"]


def test_never_used_keys_sort_last_by_last_use(web, org, make_key):
    unused, _ = make_key(org, name="Unused")
    used, _ = make_key(org, name="Used")
    ApiKey.objects.filter(pk=used.pk).update(last_used_at=timezone.now())
    assert names_in_order(web.get("/settings/developer/?sort=last_used"))[-1] == "Unused"
    assert names_in_order(web.get("/settings/developer/?sort=-last_used"))[-1] == "Unused"


def test_key_table_filters_by_status_type_and_environment(web, org, make_key):
    make_key(org, name="Live prod")
    make_key(org, name="Test dev", type="test", environment="development")
    revoked, _ = make_key(org, name="Gone")
    apikey_revoke(key=revoked, actor=SYSTEM)
    assert names_in_order(web.get("/settings/developer/?status=revoked")) == ["Gone"]
    assert names_in_order(web.get("/settings/developer/?type=test")) == ["Test dev"]
    assert names_in_order(web.get("/settings/developer/?environment=production&status=active")) == [
        "Live prod"
    ]
    response = web.get("/settings/developer/?status=bogus")
    assert response.status_code == 200  # an unknown filter value is ignored, never a 500


def test_key_table_pages_past_fifty_keys(web, org, make_key):
    for i in range(50):
        make_key(org, name=f"Live {i:02}")
    make_key(org, name="Test 00", type="test")
    first = web.get("/settings/developer/?sort=name")
    assert len(names_in_order(first)) == 50
    assert b"Page 1 of 2" in first.content
    assert b"?sort=name&amp;page=2" in first.content
    second = web.get("/settings/developer/?sort=name&page=2")
    assert names_in_order(second) == ["Test 00"]


def test_deleted_keys_leave_the_table(web, org, make_key):
    key, _ = make_key(org, name="Deleted one")
    apikey_revoke(key=key, actor=SYSTEM)
    web.post(f"/settings/developer/keys/{key.key_id}/delete/")
    assert "Deleted one" not in names_in_order(web.get("/settings/developer/"))


# --- Tenancy and roles -----------------------------------------------------------------------


def test_another_organizations_key_is_a_404_everywhere(web, make_org, make_key):
    other_org = make_org()
    theirs, _ = make_key(other_org)
    base = f"/settings/developer/keys/{theirs.key_id}/"
    assert web.get(base).status_code == 404
    for action in ["rename", "disable", "enable", "revoke", "delete", "rotate"]:
        assert web.post(base + f"{action}/", {"name": "x"}).status_code == 404, action
    theirs.refresh_from_db()
    assert theirs.status == "active"
    assert theirs.name != "x"


def test_member_sees_keys_but_no_controls(signed_in, member, org, make_key):
    key, _ = make_key(org, name="Shared key")
    client = signed_in(member)
    table = client.get("/settings/developer/").content.decode()
    assert "Shared key" in table
    assert "Create key" not in table
    detail = client.get(f"/settings/developer/keys/{key.key_id}/").content.decode()
    assert "Shared key" in detail
    for control in [
        "Rename",
        "Disable",
        "Revoke",
        "Rotate",
        '<form method="post" action="/settings/developer/keys',
    ]:
        assert control not in detail, control


def test_member_posts_are_refused_with_403(signed_in, member, org, make_key):
    key, _ = make_key(org, name="Shared key")
    client = signed_in(member)
    base = f"/settings/developer/keys/{key.key_id}/"
    for action in ["rename", "disable", "revoke", "rotate"]:
        assert client.post(base + f"{action}/", {"name": "x"}).status_code == 403, action
    assert client.post("/settings/developer/keys/new/", {"name": "x"}).status_code == 403
    assert client.get("/settings/developer/keys/new/").status_code == 403
    key.refresh_from_db()
    assert (key.status, key.name) == ("active", "Shared key")
    assert ApiKey.objects.filter(organization=org).count() == 1


def test_admin_can_manage_keys(signed_in, org, make_user, make_key):
    admin = make_user(org, role=Membership.Role.ADMIN)
    key, _ = make_key(org)
    client = signed_in(admin)
    assert b"Create key" in client.get("/settings/developer/").content
    client.post(f"/settings/developer/keys/{key.key_id}/disable/")
    key.refresh_from_db()
    assert key.status == "inactive"


@pytest.mark.parametrize("plan", ["free", "starter", "trial"])
def test_ineligible_plan_sees_why_and_no_create_button(signed_in, make_org, make_user, plan):
    org = make_org(plan=plan)
    client = signed_in(make_user(org, role=Membership.Role.OWNER))
    page = client.get("/settings/developer/").content.decode()
    assert "API keys need a Business or Enterprise plan" in page
    assert "has no API access" in page
    assert "Create key" not in page
    create = client.get("/settings/developer/keys/new/").content.decode()
    assert "Business" in create
    assert 'name="name"' not in create
    response = client.post(
        "/settings/developer/keys/new/",
        {
            "nonce": "n" * 32,
            "name": "Sneaky",
            "type": "live",
            "environment": "production",
            "permissions": ["jobs:read"],
        },
    )
    assert response.status_code == 400
    assert ApiKey.objects.filter(organization=org).count() == 0


def test_reaching_the_key_limit_is_explained(web, org, make_key, settings):
    org.plan.live_key_limit = 2
    org.plan.test_key_limit = 1
    org.plan.save()
    make_key(org, name="One")
    make_key(org, name="Two")
    page = web.get("/settings/developer/").content.decode()
    assert "allows 2 live keys and all 2 are in use" in page
    assert "Live keys: 2 of 2" in page
    assert "Create key" in page  # a test key still fits
    response = web.post("/settings/developer/keys/new/", create_form(web, name="Three"))
    assert response.status_code == 400
    assert "allows 2 live keys" in response.content.decode()
    make_key(org, name="Test", type="test")
    assert "Create key" not in web.get("/settings/developer/").content.decode()


# --- Creating a key and the show-once page ---------------------------------------------------


def test_create_form_defaults_to_live_production_jobs_key(web):
    page = web.get("/settings/developer/keys/new/").content.decode()
    assert re.search(r'value="live"[^>]*checked', page)
    assert re.search(r'<option value="production" selected>', page)
    assert re.search(r'value="jobs:write"[^>]*checked', page)
    assert re.search(r'value="jobs:read"[^>]*checked', page)
    assert not re.search(r'value="keys:manage"[^>]*checked', page)
    for label in [
        "Name",
        "Type",
        "Environment",
        "Permissions",
        "Rate limit",
        "Expires",
        "IP allowlist",
    ]:
        assert label in page


def test_creating_a_key_shows_it_once_with_no_store(web, org, owner):
    response = web.post("/settings/developer/keys/new/", create_form(web))
    assert response.status_code == 200
    plaintext = plaintext_in(response)
    assert "no-store" in response["Cache-Control"]
    page = response.content.decode()
    assert "It will not be shown again" in page
    assert "data-copy-target" in page
    key = ApiKey.objects.get(organization=org)
    assert (key.name, key.type, key.environment) == ("Billing service", "live", "production")
    assert key.permissions == ["jobs:write", "jobs:read"]
    assert key.created_by == owner
    assert KeySecret.objects.get(key=key).secret_hash == keyformat.hash_key(plaintext)
    event = AuditEvent.objects.get(action="api_key.created", target_id=key.key_id)
    assert event.actor_user == owner
    assert event.ip_address == "127.0.0.1"


def test_create_form_settings_reach_the_key(web, org):
    expires = timezone.now() + timedelta(days=10)
    response = web.post(
        "/settings/developer/keys/new/",
        create_form(
            web,
            type="test",
            environment="staging",
            permissions=["usage:read"],
            rate_limit_per_minute="30",
            expires_at=expires.strftime("%Y-%m-%dT%H:%M"),
            ip_allowlist="10.0.0.0/8\n192.0.2.1",
        ),
    )
    assert response.status_code == 200
    assert plaintext_in(response).startswith("sk-test-per-")
    key = ApiKey.objects.get(organization=org)
    assert key.permissions == ["usage:read"]
    assert key.rate_limit_per_minute == 30
    assert key.ip_allowlist == ["10.0.0.0/8", "192.0.2.1/32"]
    assert key.expires_at.strftime("%Y-%m-%d %H:%M") == expires.strftime("%Y-%m-%d %H:%M")


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("name", "   ", "Give the key a name."),
        ("ip_allowlist", "not-an-ip", "is not an IP address or CIDR range"),
        ("rate_limit_per_minute", "100000", "The plan allows at most 600 requests per minute."),
        ("rate_limit_per_minute", "0", "The rate limit is at least 1 request per minute."),
        ("expires_at", "2001-01-01T00:00", "The expiry must be in the future."),
        ("expires_at", "yesterday", "Enter a valid date/time."),
        ("permissions", [], "A key needs at least one permission."),
    ],
)
def test_invalid_fields_get_messages_next_to_them(web, org, field, value, message):
    response = web.post("/settings/developer/keys/new/", create_form(web, **{field: value}))
    assert response.status_code == 400
    page = response.content.decode()
    error = re.search(rf'<p class="error" id="id_{field}_error">([^<]*)</p>', page)
    assert error, page
    assert message in error.group(1).replace("&#x27;", "'")
    assert not KEY_RE.search(response.content)
    assert ApiKey.objects.filter(organization=org).count() == 0


def test_corrected_form_can_be_sent_again(web, org):
    data = create_form(web, name="")
    assert web.post("/settings/developer/keys/new/", data).status_code == 400
    data["name"] = "Fixed"
    response = web.post("/settings/developer/keys/new/", data)
    assert response.status_code == 200
    assert ApiKey.objects.get(organization=org).name == "Fixed"


def test_resubmitting_the_create_form_does_not_make_a_second_key(web, org):
    data = create_form(web)
    first = web.post("/settings/developer/keys/new/", data)
    plaintext = plaintext_in(first)
    again = web.post("/settings/developer/keys/new/", data)
    assert again.status_code == 409
    assert b"not shown again" in again.content
    assert plaintext.encode() not in again.content
    assert not KEY_RE.search(again.content)
    assert ApiKey.objects.filter(organization=org).count() == 1


def test_form_without_its_nonce_is_refused(web, org):
    data = create_form(web)
    del data["nonce"]
    response = web.post("/settings/developer/keys/new/", data)
    assert response.status_code == 400
    assert b"This form has expired" in response.content
    assert ApiKey.objects.count() == 0


def test_the_key_never_appears_again_after_the_creation_response(web, org):
    response = web.post("/settings/developer/keys/new/", create_form(web))
    plaintext = plaintext_in(response)
    key = ApiKey.objects.get(organization=org)
    body_part = plaintext.split("-per-")[1].encode()

    # The creation response itself sets no cookie holding it.
    for morsel in response.cookies.values():
        assert body_part not in morsel.value.encode()

    later = [
        web.get("/settings/developer/"),
        web.get(f"/settings/developer/keys/{key.key_id}/"),
        web.get("/settings/developer/keys/new/"),
        web.get("/settings/developer/activity/"),
        web.get("/settings/developer/usage/"),
        web.post(
            f"/settings/developer/keys/{key.key_id}/rename/", {"name": "Renamed"}, follow=True
        ),
    ]
    for page in later:
        assert body_part not in page.content
        for morsel in page.cookies.values():
            assert body_part not in morsel.value.encode()
    for morsel in web.cookies.values():
        assert body_part not in morsel.value.encode()
    for session in Session.objects.all():
        assert plaintext not in str(session.get_decoded())
        assert body_part.decode() not in session.session_data
    assert not AuditEvent.objects.filter(metadata__icontains=body_part.decode()).exists()


# --- Actions on a key ------------------------------------------------------------------------


def audit(action: str, key) -> AuditEvent:
    return AuditEvent.objects.get(action=action, target_id=key.key_id)


def test_rename_changes_the_name_and_is_audited(web, org, make_key, owner):
    key, _ = make_key(org, name="Before")
    response = web.post(f"/settings/developer/keys/{key.key_id}/rename/", {"name": "After"})
    assert response.status_code == 302
    key.refresh_from_db()
    assert key.name == "After"
    event = audit("api_key.renamed", key)
    assert event.actor_user == owner
    assert event.metadata["changes"]["name"] == {"from": "Before", "to": "After"}


def test_rename_to_blank_shows_the_message_and_keeps_the_name(web, org, make_key):
    key, _ = make_key(org, name="Before")
    response = web.post(f"/settings/developer/keys/{key.key_id}/rename/", {"name": "  "})
    assert response.status_code == 400
    assert b'id="id_name_error"' in response.content
    key.refresh_from_db()
    assert key.name == "Before"


def test_disable_then_enable(web, org, make_key):
    key, _ = make_key(org)
    web.post(f"/settings/developer/keys/{key.key_id}/disable/")
    key.refresh_from_db()
    assert key.status == "inactive"
    page = web.get(f"/settings/developer/keys/{key.key_id}/").content.decode()
    assert "is disabled" in page and ">Enable<" in page
    web.post(f"/settings/developer/keys/{key.key_id}/enable/")
    key.refresh_from_db()
    assert key.status == "active"
    assert audit("api_key.disabled", key).actor_label
    assert audit("api_key.enabled", key).ip_address == "127.0.0.1"


def test_actions_need_post(web, org, make_key):
    key, _ = make_key(org)
    for action in ["enable", "rename"]:
        assert web.get(f"/settings/developer/keys/{key.key_id}/{action}/").status_code == 405
    # Disabling answers a GET with its confirmation page and changes nothing.
    assert web.get(f"/settings/developer/keys/{key.key_id}/disable/").status_code == 200
    key.refresh_from_db()
    assert key.status == ApiKey.Status.ACTIVE


def test_revoke_asks_for_confirmation_naming_the_key(web, org, make_key):
    key, _ = make_key(org, name="Payments worker")
    confirm = web.get(f"/settings/developer/keys/{key.key_id}/revoke/")
    assert confirm.status_code == 200
    assert "Revoke “Payments worker”" in confirm.content.decode()
    key.refresh_from_db()
    assert key.status == "active"  # looking at the confirmation changes nothing
    web.post(f"/settings/developer/keys/{key.key_id}/revoke/")
    key.refresh_from_db()
    assert key.status == "revoked"
    assert audit("api_key.revoked", key)


def test_revoked_key_cannot_be_enabled(web, org, make_key):
    key, _ = make_key(org)
    apikey_revoke(key=key, actor=SYSTEM)
    response = web.post(f"/settings/developer/keys/{key.key_id}/enable/", follow=True)
    assert "cannot be enabled" in response.content.decode()
    key.refresh_from_db()
    assert key.status == "revoked"


def test_only_revoked_keys_can_be_deleted(web, org, make_key):
    key, _ = make_key(org, name="Keep me")
    response = web.post(f"/settings/developer/keys/{key.key_id}/delete/", follow=True)
    assert "Only revoked keys can be deleted" in response.content.decode()
    key.refresh_from_db()
    assert key.deleted_at is None
    apikey_revoke(key=key, actor=SYSTEM)
    assert (
        "Delete “Keep me”"
        in web.get(f"/settings/developer/keys/{key.key_id}/delete/").content.decode()
    )
    response = web.post(f"/settings/developer/keys/{key.key_id}/delete/")
    assert response.status_code == 302
    key.refresh_from_db()
    assert key.deleted_at is not None
    assert audit("api_key.deleted", key)
    assert web.get(f"/settings/developer/keys/{key.key_id}/").status_code == 404


def rotate_nonce(client, key) -> str:
    page = client.get(f"/settings/developer/keys/{key.key_id}/rotate/")
    return re.search(rb'name="nonce" value="([^"]+)"', page.content).group(1).decode()


def test_rotate_immediately_shows_the_new_secret_once(web, org, make_key):
    key, old = make_key(org)
    data = {"nonce": rotate_nonce(web, key), "grace_period_seconds": "0"}
    response = web.post(f"/settings/developer/keys/{key.key_id}/rotate/", data)
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    new = plaintext_in(response)
    assert new != old
    assert b"Stopped working now" in response.content
    now = timezone.now()
    current = [s.secret_hash for s in KeySecret.objects.filter(key=key) if s.is_current(now)]
    assert current == [keyformat.hash_key(new)]
    assert audit("api_key.rotated", key).metadata == {"grace_period_seconds": 0}
    again = web.post(f"/settings/developer/keys/{key.key_id}/rotate/", data)
    assert again.status_code == 409
    assert not KEY_RE.search(again.content)
    assert KeySecret.objects.filter(key=key).count() == 2


def test_rotate_with_a_grace_period_keeps_the_old_secret_for_a_while(web, org, make_key):
    key, old = make_key(org)
    data = {"nonce": rotate_nonce(web, key), "grace_period_seconds": str(24 * 3600)}
    response = web.post(f"/settings/developer/keys/{key.key_id}/rotate/", data)
    assert b"Keeps working until" in response.content
    old_secret = KeySecret.objects.get(secret_hash=keyformat.hash_key(old))
    remaining = old_secret.expires_at - timezone.now()
    assert timedelta(hours=23) < remaining <= timedelta(hours=24)


def test_rotate_refuses_a_grace_period_beyond_seven_days(web, org, make_key):
    key, _ = make_key(org)
    data = {"nonce": rotate_nonce(web, key), "grace_period_seconds": str(8 * 24 * 3600)}
    response = web.post(f"/settings/developer/keys/{key.key_id}/rotate/", data)
    assert response.status_code == 400
    assert b'id="id_grace_period_seconds_error"' in response.content
    assert KeySecret.objects.filter(key=key).count() == 1
