"""A key never hands out more than it holds: each axis, self-changes and stronger targets."""

from datetime import timedelta

import pytest
from django.utils import timezone
from helpers import SYSTEM

from accounts.audit import Actor
from accounts.models import AuditEvent
from apikeys.models import ApiKey, Permission
from apikeys.services import apikey_create, apikey_disable, apikey_revoke, apikey_rotate

ALL = list(Permission.values)
SOON = timezone.now() + timedelta(days=1)


def _iso(moment):
    return moment.isoformat().replace("+00:00", "Z")


# One row per axis of the rule: how the acting key is restricted, a create body beyond it, a
# create body within it, a PATCH by the key on itself lifting the restriction (None where the
# axis cannot be changed) and one tightening it, and a target key stronger on that axis alone.
AXIS_ROWS = {
    "type": {
        "acting": {"type": "test"},
        "beyond": {"type": "live"},
        "within": {"type": "test"},
        "lift": None,
        "stronger": {"type": "live"},
    },
    "environment": {
        "acting": {},
        "beyond": {"environment": "staging"},
        "within": {"environment": "production"},
        "lift": None,
        "stronger": {"environment": "staging"},
    },
    "permissions": {
        "acting": {"permissions": ["keys:manage", "jobs:read"]},
        "beyond": {"permissions": ["jobs:read", "jobs:write"]},
        "within": {"permissions": ["jobs:read"]},
        "lift": {"permissions": ALL},
        "tighter": {"permissions": ["keys:manage"]},
        "stronger": {"permissions": ALL},
    },
    "ip_allowlist": {
        "acting": {"ip_allowlist": ["127.0.0.0/8"]},
        "beyond": {"ip_allowlist": ["127.0.0.0/8", "10.0.0.0/8"]},
        "within": {"ip_allowlist": ["127.0.0.1/32", "127.1.0.0/16"]},
        "lift": {"ip_allowlist": None},
        "tighter": {"ip_allowlist": ["127.0.0.1/32"]},
        "stronger": {"ip_allowlist": []},
    },
    "expires_at": {
        "acting": {"expires_at": SOON},
        "beyond": {"expires_at": _iso(SOON + timedelta(seconds=1))},
        "within": {"expires_at": _iso(SOON)},
        "lift": {"expires_at": None},
        "tighter": {"expires_at": _iso(SOON - timedelta(hours=1))},
        "stronger": {"expires_at": None},
    },
    "rate_limit_per_minute": {
        "acting": {"rate_limit_per_minute": 5},
        "beyond": {"rate_limit_per_minute": 6},
        "within": {"rate_limit_per_minute": 5},
        "lift": {"rate_limit_per_minute": None},
        "tighter": {"rate_limit_per_minute": 4},
        "stronger": {"rate_limit_per_minute": None},
    },
}
AXES = list(AXIS_ROWS)
LIFTABLE = [axis for axis, row in AXIS_ROWS.items() if row["lift"] is not None]


@pytest.fixture
def acting(org, make_key, client_for):
    """Return ``acting(**settings) -> (key, client)``: a keys:manage key restricted as given."""

    def make(**settings):
        settings.setdefault("permissions", ALL)
        key, plaintext = make_key(org, name="Acting", **settings)
        return key, client_for(plaintext)

    return make


def _refused(response, *axes):
    assert response.status_code == 403, response.json()
    error = response.json()["error"]
    assert error["code"] == "exceeds_own_privileges"
    assert list(error["fields"]) == list(axes)
    return error


def state(key: ApiKey) -> dict:
    """Return everything about ``key`` that a change could touch, read from the database.

    Its last use is left out: a key's own request records it, refused or not.
    """
    row = ApiKey.objects.filter(pk=key.pk).values().get()
    for field in ("last_used_at", "last_used_ip", "last_used_user_agent"):
        del row[field]
    row["secrets"] = list(key.secrets.order_by("id").values_list("secret_hash", "expires_at"))
    return row


# --- Create ------------------------------------------------------------------------------------


@pytest.mark.parametrize("axis", AXES)
def test_key_cannot_create_a_key_beyond_itself_on_any_axis(org, acting, axis):
    row = AXIS_ROWS[axis]
    key, client = acting(**row["acting"])
    before = set(ApiKey.objects.values_list("pk", flat=True))
    response = client.post("/api/v1/keys", {"name": "k", **row["beyond"]}, format="json")
    _refused(response, axis)
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
    _refused(response, "type", "permissions", "ip_allowlist", "expires_at", "rate_limit_per_minute")
    assert not ApiKey.objects.filter(name="fresh").exists()


def test_test_key_cannot_create_a_live_key(acting):
    _, client = acting(type="test")
    response = client.post("/api/v1/keys", {"name": "k", "type": "live"}, format="json")
    _refused(response, "type")
    assert not ApiKey.objects.filter(type="live").exists()


def test_allowlist_in_another_ip_version_is_not_inside(acting):
    _, client = acting(ip_allowlist=["127.0.0.0/8"])
    response = client.post("/api/v1/keys", {"name": "k", "ip_allowlist": ["::1"]}, format="json")
    _refused(response, "ip_allowlist")


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
    before = state(key)
    response = client.patch(f"/api/v1/keys/{key.key_id}", row["lift"], format="json")
    _refused(response, axis)
    assert state(key) == before
    event = AuditEvent.objects.get(action="api_key.privileges_exceeded")
    assert (event.target_id, event.metadata["attempted"]) == (key.key_id, "update")


def test_key_cannot_clear_its_allowlist_expiry_and_limit_at_once(acting):
    key, client = acting(ip_allowlist=["127.0.0.1/32"], expires_at=SOON, rate_limit_per_minute=5)
    before = state(key)
    response = client.patch(
        f"/api/v1/keys/{key.key_id}",
        {"ip_allowlist": None, "expires_at": None, "rate_limit_per_minute": None},
        format="json",
    )
    _refused(response, "ip_allowlist", "expires_at", "rate_limit_per_minute")
    assert state(key) == before


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
    before = state(key)
    response = client.post(f"/api/v1/keys/{key.key_id}/rotate", {}, format="json")
    assert response.status_code == 200
    after = state(key)
    for field in ("type", "environment", "permissions", "ip_allowlist", "expires_at"):
        assert after[field] == before[field]
    assert after["rate_limit_per_minute"] == 5
    assert client_for(response.json()["key"]).get("/api/v1/keys").status_code == 200


def test_restricted_key_may_revoke_itself(acting):
    key, client = acting(type="test", ip_allowlist=["127.0.0.1/32"], rate_limit_per_minute=5)
    response = client.post(f"/api/v1/keys/{key.key_id}/revoke", {}, format="json")
    assert response.status_code == 200
    assert response.json()["status"] == "revoked"


# --- Acting on a stronger key ------------------------------------------------------------------

ACTIONS = ["patch", "rotate", "disable", "enable", "revoke", "delete"]


def _act(client, key, action):
    url = f"/api/v1/keys/{key.key_id}"
    if action == "patch":  # even a change that weakens the key
        return client.patch(url, {"name": "weakened", "rate_limit_per_minute": 1}, format="json")
    if action == "delete":
        return client.delete(url)
    return client.post(f"{url}/{action}", {}, format="json")


def _prepare(target, action):
    if action == "enable":
        apikey_disable(key=target, actor=SYSTEM)
    if action == "delete":
        apikey_revoke(key=target, actor=SYSTEM)


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("axis", AXES)
def test_key_cannot_act_on_a_key_stronger_on_any_axis(org, make_key, acting, axis, action):
    row = AXIS_ROWS[axis]
    key, client = acting(**row["acting"])
    # The target is what the acting key is, except stronger on this one axis.
    target_settings = {**row["acting"], **row["stronger"]}
    if "permissions" not in target_settings:
        target_settings["permissions"] = ALL
    target, _ = make_key(org, name="Target", **target_settings)
    _prepare(target, action)
    before = state(target)
    _refused(_act(client, target, action), axis)
    assert state(target) == before
    event = AuditEvent.objects.get(action="api_key.privileges_exceeded")
    assert (event.actor_key_id, event.target_id) == (key.pk, target.key_id)
    attempted = "update" if action == "patch" else action
    assert event.metadata == {"attempted": attempted, "fields": [axis]}


@pytest.mark.parametrize("action", ACTIONS)
def test_key_with_only_keys_manage_cannot_touch_a_key_holding_every_permission(
    org, make_key, acting, action
):
    _, client = acting(permissions=["keys:manage"])
    target, _ = make_key(org, permissions=ALL)
    _prepare(target, action)
    before = state(target)
    _refused(_act(client, target, action), "permissions")
    assert state(target) == before


@pytest.mark.parametrize("action", ACTIONS)
def test_key_acts_on_keys_it_dominates(org, make_key, acting, action):
    key, client = acting(type="test", ip_allowlist=["127.0.0.0/8"], expires_at=SOON)
    target, _ = make_key(
        org, type="test", permissions=["jobs:read"], ip_allowlist=["127.0.0.1"], expires_at=SOON
    )
    _prepare(target, action)
    response = _act(client, target, action)
    assert response.status_code in (200, 204), response.json()
    assert not AuditEvent.objects.filter(action="api_key.privileges_exceeded").exists()


def test_refusal_names_the_target_and_the_created_key_axes_alike(org, make_key, acting):
    # Changing a stronger key into a weaker one: the target's current settings are beyond.
    _, client = acting(permissions=["keys:manage", "jobs:read"], rate_limit_per_minute=5)
    target, _ = make_key(org, permissions=ALL)
    response = client.patch(
        f"/api/v1/keys/{target.key_id}", {"permissions": ["jobs:read"]}, format="json"
    )
    _refused(response, "permissions", "rate_limit_per_minute")
    target.refresh_from_db()
    assert target.permissions == ALL


# --- People are not bound ---------------------------------------------------------------------


def test_people_and_operators_act_as_themselves(org, make_key, make_user):
    admin = Actor(user=make_user(org))
    strongest, _ = make_key(org, permissions=ALL)
    made, _ = apikey_create(organization=org, name="Any", actor=admin, environment="staging")
    assert made.environment == "staging"
    apikey_rotate(key=strongest, actor=admin)
    apikey_rotate(key=strongest, actor=SYSTEM)
    assert not AuditEvent.objects.filter(action="api_key.privileges_exceeded").exists()


# --- Spend limits (once keys have them) ---------------------------------------------------------

needs_spend_limits = pytest.mark.skipif(
    not hasattr(ApiKey, "spend_limit_credits"), reason="ApiKey has no spend limit fields yet"
)


@needs_spend_limits
@pytest.mark.parametrize(
    "body",
    [
        {},
        {"spend_limit_credits": 101, "spend_limit_period": "month"},
        {"spend_limit_credits": 50, "spend_limit_period": "total"},
    ],
)
def test_key_with_a_spend_limit_cannot_create_a_key_beyond_it(acting, body):
    _, client = acting(spend_limit_credits=100, spend_limit_period="month")
    response = client.post("/api/v1/keys", {"name": "k", **body}, format="json")
    _refused(response, "spend_limit")
    assert not ApiKey.objects.filter(name="k").exists()


@needs_spend_limits
def test_key_cannot_lift_its_own_spend_limit(acting):
    key, client = acting(spend_limit_credits=100, spend_limit_period="month")
    before = state(key)
    response = client.patch(
        f"/api/v1/keys/{key.key_id}", {"spend_limit_credits": None}, format="json"
    )
    _refused(response, "spend_limit")
    assert state(key) == before


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_refusal_audit_row_is_committed_while_the_change_is_rolled_back(acting):
    # No test transaction around this one: the service's own transaction really rolls back.
    key, client = acting(rate_limit_per_minute=5)
    response = client.patch(
        f"/api/v1/keys/{key.key_id}",
        {"name": "renamed", "rate_limit_per_minute": None},
        format="json",
    )
    _refused(response, "rate_limit_per_minute")
    key.refresh_from_db()
    assert (key.name, key.rate_limit_per_minute) == ("Acting", 5)
    event = AuditEvent.objects.get(action="api_key.privileges_exceeded")
    assert event.actor_key_id == key.pk
    assert not AuditEvent.objects.filter(action="api_key.updated").exists()
