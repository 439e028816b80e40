"""The organization's key policy: a maximum lifetime and required expiry, refused with
``400 key_policy_violation`` in the API, the pages and the CLI; older keys keep working."""

from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from accounts.models import AuditEvent
from accounts.services import organization_set_key_policy
from apikeys.keys.errors import KeyPolicyViolation
from apikeys.keys.models import ApiKey
from apikeys.keys.policy import KeyPolicy
from apikeys.keys.services import apikey_create, apikey_rotate, apikey_update
from perceptis.errors import InvalidRequest
from tests.accounts.test_admin_organizations import _change_form
from tests.apikeys.keys.test_web_keys import create_form
from tests.helpers import SYSTEM, iso

pytestmark = pytest.mark.django_db


def _policy(org, days=None, required=False):
    return organization_set_key_policy(
        organization=org, max_lifetime_days=days, expiry_required=required, actor=SYSTEM
    )


@pytest.fixture
def manager(org, make_key, client_for):
    _, plaintext = make_key(org, permissions=["keys:manage", "jobs:read", "jobs:write"])
    return client_for(plaintext)


def test_a_key_without_expiry_is_refused_when_expiry_is_required(org, manager):
    _policy(org, required=True)
    response = manager.post("/api/v1/keys", {"name": "CI"}, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "key_policy_violation"
    assert list(error["fields"]) == ["expires_at"]


def test_a_key_past_the_maximum_lifetime_is_refused(org, manager):
    _policy(org, days=30)
    too_late = iso(timezone.now() + timedelta(days=31))
    response = manager.post("/api/v1/keys", {"name": "CI", "expires_at": too_late}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "key_policy_violation"
    assert "30 days" in response.json()["error"]["fields"]["expires_at"][0]
    # A maximum implies an expiry.
    never = manager.post("/api/v1/keys", {"name": "CI"}, format="json")
    assert never.json()["error"]["code"] == "key_policy_violation"


def test_a_key_within_the_policy_is_created(org, manager):
    _policy(org, days=30, required=True)
    fine = iso(timezone.now() + timedelta(days=29))
    response = manager.post("/api/v1/keys", {"name": "CI", "expires_at": fine}, format="json")
    assert response.status_code == 201


def test_a_refusal_creates_nothing(org, make_key):
    _policy(org, days=7)
    before = ApiKey.objects.count(), AuditEvent.objects.filter(action="api_key.created").count()
    with pytest.raises(KeyPolicyViolation):
        apikey_create(organization=org, name="x", actor=SYSTEM)
    after = ApiKey.objects.count(), AuditEvent.objects.filter(action="api_key.created").count()
    assert after == before


def test_older_keys_keep_working_and_are_marked_outside_policy(org, make_key, client_for, web):
    key, plaintext = make_key(org, name="Old forever key")
    _policy(org, days=90)
    assert client_for(plaintext).get("/api/v1/models").status_code == 200
    page = web.get("/settings/developer/").content.decode()
    assert "outside policy" in page
    detail = web.get(f"/settings/developer/keys/{key.key_id}/").content.decode()
    assert "Outside the organization" in detail


def test_rotating_a_key_outside_the_policy_is_refused_until_its_expiry_is_fixed(org, make_key):
    key, _ = make_key(org)
    _policy(org, days=30)
    with pytest.raises(KeyPolicyViolation) as refused:
        apikey_rotate(key=key, actor=SYSTEM)
    assert list(refused.value.fields) == ["expires_at"]
    apikey_update(key=key, actor=SYSTEM, expires_at=timezone.now() + timedelta(days=10))
    _, plaintext = apikey_rotate(key=key, actor=SYSTEM)
    assert plaintext.startswith("sk-live-per-")


def test_rotating_through_the_api_answers_key_policy_violation(org, make_key, manager):
    key, _ = make_key(org)
    _policy(org, required=True)
    response = manager.post(f"/api/v1/keys/{key.key_id}/rotate", {}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "key_policy_violation"


def test_an_expiry_cannot_be_moved_past_the_policy(org, make_key, manager):
    key, _ = make_key(org, expires_at=timezone.now() + timedelta(days=5))
    _policy(org, days=30)
    late = iso(timezone.now() + timedelta(days=60))
    response = manager.patch(f"/api/v1/keys/{key.key_id}", {"expires_at": late}, format="json")
    assert response.json()["error"]["code"] == "key_policy_violation"
    removed = manager.patch(f"/api/v1/keys/{key.key_id}", {"expires_at": None}, format="json")
    assert removed.json()["error"]["code"] == "key_policy_violation"
    renamed = manager.patch(f"/api/v1/keys/{key.key_id}", {"name": "Renamed"}, format="json")
    assert renamed.status_code == 200


def test_the_create_page_shows_the_refusal_and_offers_presets_within_the_policy(org, web):
    _policy(org, days=45)
    form = web.get("/settings/developer/keys/new/").content.decode()
    assert 'value="30"' in form and 'value="45"' in form
    assert 'value="60"' not in form and 'value="366"' not in form
    refused = web.post("/settings/developer/keys/new/", create_form(web))
    assert refused.status_code == 400
    assert "key policy" in refused.content.decode()
    assert not ApiKey.objects.filter(organization=org, name="Billing service").exists()
    made = web.post("/settings/developer/keys/new/", create_form(web, expires_in_days="30"))
    assert made.status_code == 200
    key = ApiKey.objects.get(organization=org, name="Billing service")
    assert timedelta(days=29) < key.expires_at - timezone.now() <= timedelta(days=30)


def test_the_cli_refuses_with_the_fields(org):
    _policy(org, required=True)
    with pytest.raises(CommandError) as refused:
        call_command("create_api_key", "--org", org.slug, "--name", "CI")
    assert "key policy" in str(refused.value) and "expires_at" in str(refused.value)
    call_command("create_api_key", "--org", org.slug, "--name", "CI", "--expires-in-days", "30")


def test_the_policy_is_validated_and_audited(org):
    for bad in (0, 367, -1, True, "30"):
        with pytest.raises(InvalidRequest):
            _policy(org, days=bad)
    _policy(org, days=90, required=True)
    event = AuditEvent.objects.get(action="organization.key_policy_changed")
    assert event.metadata["to"] == {"max_lifetime_days": 90, "expiry_required": True}
    _policy(org, days=90, required=True)  # unchanged: no second row
    assert AuditEvent.objects.filter(action="organization.key_policy_changed").count() == 1


def test_only_an_owner_sets_the_policy_on_the_account_page(org, signed_in, owner, make_user):
    admin = signed_in(make_user(org, role="admin"))
    assert admin.post("/accounts/key-policy/", {"key_max_lifetime_days": "30"}).status_code == 403
    org.refresh_from_db()
    assert org.key_max_lifetime_days is None
    client = signed_in(owner)
    assert "Key policy" in client.get("/accounts/").content.decode()
    response = client.post(
        "/accounts/key-policy/", {"key_max_lifetime_days": "30", "key_expiry_required": "on"}
    )
    assert response.status_code == 302
    org.refresh_from_db()
    assert (org.key_max_lifetime_days, org.key_expiry_required) == (30, True)


def test_support_sets_the_policy_in_admin(org, support):
    url = f"/admin/accounts/organization/{org.pk}/change/"
    response = support.post(url, _change_form(support, org, key_max_lifetime_days="60"))
    assert response.status_code == 302, response.content[:2000]
    org.refresh_from_db()
    assert org.key_max_lifetime_days == 60
    event = AuditEvent.objects.get(action="organization.key_policy_changed")
    assert event.actor_label == "support@example.com"
    refused = support.post(url, _change_form(support, org, key_max_lifetime_days="400"))
    assert refused.status_code == 200
    org.refresh_from_db()
    assert org.key_max_lifetime_days == 60


def test_presets_stay_within_the_maximum():
    for days in range(1, 367):
        presets = KeyPolicy(max_lifetime_days=days).presets()
        assert presets[-1] == days and all(p <= days for p in presets)
