"""Editing a key on its page: the API's validation, owners and admins only, a recent password,
every change audited; disabling asks first; rotation keeps the old secret an hour by default."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import AuditEvent, Membership
from apikeys.keys.models import ApiKey

EDIT = "/settings/developer/keys/{}/edit/"


def form(key, **overrides) -> dict:
    data = {
        "project": key.project_id,
        "name": key.name,
        "permissions": list(key.permissions),
        "rate_limit_per_minute": "",
        "expires_at": "",
        "ip_allowlist": "",
        "spend_limit_credits": "",
        "spend_limit_period": "month",
    }
    data.update(overrides)
    return data


def age_authentication(client, seconds: int) -> None:
    session = client.session
    for record in session["account_authentication_methods"]:
        record["at"] -= seconds
    session.save()


def test_an_owner_changes_every_setting_and_it_is_audited(web, org, make_key, owner):
    key, _ = make_key(org, name="Backend", permissions=["jobs:write", "jobs:read"])
    expires = (timezone.now() + timedelta(days=30)).replace(second=0, microsecond=0)
    data = form(
        key,
        name="Backend v2",
        permissions=["jobs:read"],
        rate_limit_per_minute="60",
        expires_at=expires.strftime("%Y-%m-%dT%H:%M"),
        ip_allowlist="203.0.113.0/24\n198.51.100.7",
        spend_limit_credits="250",
        spend_limit_period="day",
    )

    response = web.post(EDIT.format(key.key_id), data)

    assert response.status_code == 302
    key.refresh_from_db()
    assert (key.name, key.permissions, key.rate_limit_per_minute) == (
        "Backend v2",
        ["jobs:read"],
        60,
    )
    assert key.expires_at == expires
    assert key.ip_allowlist == ["203.0.113.0/24", "198.51.100.7/32"]
    assert (key.spend_limit_credits, key.spend_limit_period) == (250, "day")
    event = AuditEvent.objects.get(action="api_key.updated", target_id=key.key_id)
    assert event.actor_user == owner
    assert set(event.metadata["changes"]) == {
        "name",
        "permissions",
        "rate_limit_per_minute",
        "expires_at",
        "ip_allowlist",
        "spend_limit_credits",
        "spend_limit_period",
    }


def test_the_form_shows_the_key_as_it_is(web, org, make_key):
    key, _ = make_key(org, name="Shown", ip_allowlist=["203.0.113.0/24"], rate_limit_per_minute=30)

    page = web.get(EDIT.format(key.key_id)).content.decode()

    assert 'value="Shown"' in page and 'value="30"' in page and "203.0.113.0/24" in page


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("ip_allowlist", "not-an-address"),
        ("rate_limit_per_minute", "1000000"),
        ("rate_limit_per_minute", "-5"),
        ("expires_at", "2000-01-01T00:00"),
        ("permissions", ["keys:everything"]),
        ("name", ""),
        ("name", "x" * 10_000),
        ("spend_limit_credits", "-1"),
    ],
)
def test_the_api_rules_refuse_bad_values_next_to_the_field(web, org, make_key, field, value):
    key, _ = make_key(org, name="Kept")
    before = ApiKey.objects.get(pk=key.pk)

    response = web.post(EDIT.format(key.key_id), form(key, **{field: value}))

    assert response.status_code == 400
    assert b'class="error"' in response.content
    key.refresh_from_db()
    assert (key.name, key.permissions, key.rate_limit_per_minute, key.ip_allowlist) == (
        before.name,
        before.permissions,
        before.rate_limit_per_minute,
        before.ip_allowlist,
    )
    assert not AuditEvent.objects.filter(action="api_key.updated", target_id=key.key_id).exists()


def test_a_member_cannot_edit(signed_in, member, org, make_key):
    key, _ = make_key(org, name="Theirs")
    client = signed_in(member)

    assert client.get(EDIT.format(key.key_id)).status_code == 403
    assert client.post(EDIT.format(key.key_id), form(key, name="Mine")).status_code == 403
    key.refresh_from_db()
    assert key.name == "Theirs"


def test_another_organizations_key_is_not_found(web, make_org, make_key):
    theirs, _ = make_key(make_org(), name="Other org")

    assert web.get(EDIT.format(theirs.key_id)).status_code == 404
    assert web.post(EDIT.format(theirs.key_id), form(theirs, name="Taken")).status_code == 404
    theirs.refresh_from_db()
    assert theirs.name == "Other org"


def test_editing_asks_for_the_password_after_ten_minutes(web, org, make_key):
    key, _ = make_key(org, name="Guarded")
    age_authentication(web, 11 * 60)

    response = web.post(EDIT.format(key.key_id), form(key, permissions=["jobs:read"]))

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/reauthenticate/")
    key.refresh_from_db()
    assert key.permissions != ["jobs:read"]


def test_a_revoked_key_cannot_be_edited(web, org, make_key):
    key, _ = make_key(org, name="Gone")
    key.status = ApiKey.Status.REVOKED
    key.save(update_fields=["status"])

    response = web.post(EDIT.format(key.key_id), form(key, name="Back"))

    assert response.status_code == 302
    key.refresh_from_db()
    assert key.name == "Gone"


def test_an_admin_cannot_raise_a_rate_limit_above_the_plan(signed_in, org, make_user, make_key):
    admin = make_user(org, role=Membership.Role.ADMIN)
    key, _ = make_key(org, name="Capped")
    client = signed_in(admin)
    above_plan = str(org.plan.rate_limit_per_minute + 1)

    response = client.post(EDIT.format(key.key_id), form(key, rate_limit_per_minute=above_plan))

    assert response.status_code == 400
    key.refresh_from_db()
    assert key.rate_limit_per_minute is None


# --- Safer defaults --------------------------------------------------------------------------


def test_disabling_asks_first_and_says_what_stops_working(web, org, make_key):
    key, _ = make_key(org, name="Live backend")
    ApiKey.objects.filter(pk=key.pk).update(
        last_used_at=timezone.now() - timedelta(minutes=3), last_used_ip="203.0.113.9"
    )

    page = web.get(f"/settings/developer/keys/{key.key_id}/disable/").content.decode()

    assert "refused with 401" in page and "203.0.113.9" in page
    key.refresh_from_db()
    assert key.status == ApiKey.Status.ACTIVE
    detail = web.get(f"/settings/developer/keys/{key.key_id}/").content.decode()
    assert f'action="/settings/developer/keys/{key.key_id}/disable/"' not in detail
    assert web.post(f"/settings/developer/keys/{key.key_id}/disable/").status_code == 302
    key.refresh_from_db()
    assert key.status == ApiKey.Status.INACTIVE


def test_revoking_says_when_the_key_was_last_used(web, org, make_key):
    key, _ = make_key(org, name="Busy")
    ApiKey.objects.filter(pk=key.pk).update(
        last_used_at=timezone.now(), last_used_ip="198.51.100.4"
    )

    page = web.get(f"/settings/developer/keys/{key.key_id}/revoke/").content.decode()

    assert "198.51.100.4" in page and "will fail" in page


def test_rotation_offers_an_hour_of_grace_by_default(web, org, make_key):
    key, _ = make_key(org)

    page = web.get(f"/settings/developer/keys/{key.key_id}/rotate/").content.decode()

    checked = re.search(r'<input[^>]*name="grace_period_seconds"[^>]*checked[^>]*>', page)
    assert checked and 'value="3600"' in checked.group(0)
    assert "Immediately" in page
