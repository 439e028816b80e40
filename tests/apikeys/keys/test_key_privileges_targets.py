"""A key never hands out more than it holds: acting on other keys, people, spend limits, audit."""

import pytest

from accounts.audit import Actor
from accounts.models import AuditEvent
from apikeys.keys.models import ApiKey
from apikeys.keys.services import apikey_create, apikey_disable, apikey_revoke, apikey_rotate
from tests.helpers import ALL_PERMISSIONS as ALL
from tests.helpers import AXES, AXIS_ROWS, SOON, SYSTEM, assert_exceeds, key_state

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
# A test key acting on a live key (the type axis) is not refused but finds no such key: 404,
# in test_keys_api.py.
@pytest.mark.parametrize("axis", [axis for axis in AXES if axis != "type"])
def test_key_cannot_act_on_a_key_stronger_on_any_axis(org, make_key, acting, axis, action):
    row = AXIS_ROWS[axis]
    key, client = acting(**row["acting"])
    # The target is what the acting key is, except stronger on this one axis.
    target_settings = {**row["acting"], **row["stronger"]}
    if "permissions" not in target_settings:
        target_settings["permissions"] = ALL
    target, _ = make_key(org, name="Target", **target_settings)
    _prepare(target, action)
    before = key_state(target)
    assert_exceeds(_act(client, target, action), axis)
    assert key_state(target) == before
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
    before = key_state(target)
    assert_exceeds(_act(client, target, action), "permissions")
    assert key_state(target) == before


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
    assert_exceeds(response, "permissions", "rate_limit_per_minute")
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


# --- Spend limits ---------------------------------------------------------------------------------


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
    assert_exceeds(response, "spend_limit")
    assert not ApiKey.objects.filter(name="k").exists()


def test_key_cannot_lift_its_own_spend_limit(acting):
    key, client = acting(spend_limit_credits=100, spend_limit_period="month")
    before = key_state(key)
    response = client.patch(
        f"/api/v1/keys/{key.key_id}", {"spend_limit_credits": None}, format="json"
    )
    assert_exceeds(response, "spend_limit")
    assert key_state(key) == before


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_refusal_audit_row_is_committed_while_the_change_is_rolled_back(acting):
    # No test transaction around this one: the service's own transaction really rolls back.
    key, client = acting(rate_limit_per_minute=5)
    response = client.patch(
        f"/api/v1/keys/{key.key_id}",
        {"name": "renamed", "rate_limit_per_minute": None},
        format="json",
    )
    assert_exceeds(response, "rate_limit_per_minute")
    key.refresh_from_db()
    assert (key.name, key.rate_limit_per_minute) == ("Acting", 5)
    event = AuditEvent.objects.get(action="api_key.privileges_exceeded")
    assert event.actor_key_id == key.pk
    assert not AuditEvent.objects.filter(action="api_key.updated").exists()
