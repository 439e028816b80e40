"""A key never hands out more than it holds: creating keys and a key changing itself."""

import pytest

from accounts.models import AuditEvent
from apikeys.keys.models import ApiKey
from tests.helpers import AXES, AXIS_ROWS, LIFTABLE, SOON, assert_exceeds, key_state

# --- Create ------------------------------------------------------------------------------------


@pytest.mark.parametrize("axis", AXES)
def test_key_cannot_create_a_key_beyond_itself_on_any_axis(org, acting, axis):
    row = AXIS_ROWS[axis]
    key, client = acting(**row["acting"])
    before = set(ApiKey.objects.values_list("pk", flat=True))
    response = client.post("/api/v1/keys", {"name": "k", **row["beyond"]}, format="json")
    assert_exceeds(response, axis)
    assert set(ApiKey.objects.values_list("pk", flat=True)) == before
    event = AuditEvent.objects.get(action="api_key.privileges_exceeded")
    assert (event.actor_key_id, event.metadata) == (
        key.pk,
        {"attempted": "create", "fields": [axis]},
    )


@pytest.mark.parametrize("axis", AXES)
def test_key_creates_keys_within_itself_on_every_axis(acting, axis):
    row = AXIS_ROWS[axis]
    _, client = acting(**row["acting"])
    response = client.post("/api/v1/keys", {"name": "k", **row["within"]}, format="json")
    assert response.status_code == 201, response.json()


def test_restricted_key_cannot_mint_a_key_without_its_restrictions(acting):
    _, client = acting(
        type="test",
        permissions=["keys:manage", "jobs:read"],
        ip_allowlist=["127.0.0.1/32"],
        expires_at=SOON,
        rate_limit_per_minute=5,
    )
    response = client.post("/api/v1/keys", {"name": "fresh"}, format="json")
    assert_exceeds(
        response, "type", "permissions", "ip_allowlist", "expires_at", "rate_limit_per_minute"
    )
    assert not ApiKey.objects.filter(name="fresh").exists()


def test_test_key_cannot_create_a_live_key(acting):
    _, client = acting(type="test")
    response = client.post("/api/v1/keys", {"name": "k", "type": "live"}, format="json")
    assert_exceeds(response, "type")
    assert not ApiKey.objects.filter(type="live").exists()


def test_allowlist_in_another_ip_version_is_not_inside(acting):
    _, client = acting(ip_allowlist=["127.0.0.0/8"])
    response = client.post("/api/v1/keys", {"name": "k", "ip_allowlist": ["::1"]}, format="json")
    assert_exceeds(response, "ip_allowlist")


def test_rate_limit_compares_effective_limits(org, acting):
    # An own limit above the plan's is the plan's: a key under the plan's limit dominates it.
    _, client = acting()
    limit = org.plan.rate_limit_per_minute
    response = client.post(
        "/api/v1/keys", {"name": "k", "rate_limit_per_minute": limit}, format="json"
    )
    assert response.status_code == 201


# --- The key changing itself ------------------------------------------------------------------


@pytest.mark.parametrize("axis", LIFTABLE)
def test_key_cannot_lift_its_own_restriction(acting, axis):
    row = AXIS_ROWS[axis]
    key, client = acting(**row["acting"])
    before = key_state(key)
    response = client.patch(f"/api/v1/keys/{key.key_id}", row["lift"], format="json")
    assert_exceeds(response, axis)
    assert key_state(key) == before
    event = AuditEvent.objects.get(action="api_key.privileges_exceeded")
    assert (event.target_id, event.metadata["attempted"]) == (key.key_id, "update")


def test_key_cannot_clear_its_allowlist_expiry_and_limit_at_once(acting):
    key, client = acting(ip_allowlist=["127.0.0.1/32"], expires_at=SOON, rate_limit_per_minute=5)
    before = key_state(key)
    response = client.patch(
        f"/api/v1/keys/{key.key_id}",
        {"ip_allowlist": None, "expires_at": None, "rate_limit_per_minute": None},
        format="json",
    )
    assert_exceeds(response, "ip_allowlist", "expires_at", "rate_limit_per_minute")
    assert key_state(key) == before


@pytest.mark.parametrize("axis", LIFTABLE)
def test_key_can_tighten_its_own_restriction(acting, axis):
    row = AXIS_ROWS[axis]
    key, client = acting(**row["acting"])
    response = client.patch(f"/api/v1/keys/{key.key_id}", row["tighter"], format="json")
    assert response.status_code == 200, response.json()
    event = AuditEvent.objects.get(action="api_key.updated", target_id=key.key_id)
    assert event.actor_key_id == key.pk
    assert event.metadata["axes"] == [axis]


def test_key_rotating_itself_keeps_every_restriction(acting, client_for):
    key, client = acting(
        type="test", ip_allowlist=["127.0.0.1/32"], expires_at=SOON, rate_limit_per_minute=5
    )
    before = key_state(key)
    response = client.post(f"/api/v1/keys/{key.key_id}/rotate", {}, format="json")
    assert response.status_code == 200
    after = key_state(key)
    for field in ("type", "environment", "permissions", "ip_allowlist", "expires_at"):
        assert after[field] == before[field]
    assert after["rate_limit_per_minute"] == 5
    assert client_for(response.json()["key"]).get("/api/v1/keys").status_code == 200


def test_restricted_key_may_revoke_itself(acting):
    key, client = acting(type="test", ip_allowlist=["127.0.0.1/32"], rate_limit_per_minute=5)
    response = client.post(f"/api/v1/keys/{key.key_id}/revoke", {}, format="json")
    assert response.status_code == 200
    assert response.json()["status"] == "revoked"
