"""The key-management API: /api/v1/keys… with a key that holds keys:manage."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import AuditEvent
from apikeys.keys.models import ApiKey, Permission
from apikeys.keys.services import apikey_revoke
from tests.helpers import SYSTEM

ALL = list(Permission.values)


@pytest.fixture
def manager(org, make_key, client_for):
    key, plaintext = make_key(org, name="Manager", permissions=ALL)
    return key, client_for(plaintext)


def _post(client, url, body=None):
    return client.post(url, body if body is not None else {}, format="json")


def _patch(client, url, body):
    return client.patch(url, body, format="json")


def _code(response):
    return response.json()["error"]["code"]


# --- create ------------------------------------------------------------------------------------


def test_create_returns_the_plaintext_once_with_no_store(manager):
    key, client = manager
    response = _post(client, "/api/v1/keys", {"name": "CI deploys"})
    assert response.status_code == 201
    body = response.json()
    assert body["key"].startswith("sk-live-per-")
    assert body["id"].startswith("key_")
    assert body["name"] == "CI deploys"
    assert body["permissions"] == ["jobs:write", "jobs:read"]
    assert body["status"] == "active"
    assert response["Cache-Control"] == "no-store"
    shown = client.get(f"/api/v1/keys/{body['id']}").json()
    assert "key" not in shown
    assert body["key"] not in str(shown)


def test_created_key_works_for_the_api(manager, client_for):
    _, client = manager
    body = _post(client, "/api/v1/keys", {"name": "Reader", "permissions": ["usage:read"]}).json()
    assert client_for(body["key"]).get("/api/v1/usage").status_code == 200


def test_create_takes_every_setting(org, make_key, client_for, settings):
    # A key creates keys of its own environment only: this deployment serves staging.
    settings.PERCEPTIS_ENVIRONMENT = "staging"
    _, plaintext = make_key(org, permissions=ALL, environment="staging")
    client = client_for(plaintext)
    response = _post(
        client,
        "/api/v1/keys",
        {
            "name": "Staging worker",
            "type": "test",
            "environment": "staging",
            "permissions": ["jobs:read"],
            "rate_limit_per_minute": 30,
            "expires_at": "2099-06-01T12:00:00+02:00",
            "ip_allowlist": ["10.0.0.0/8", "192.0.2.7"],
        },
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["key"].startswith("sk-test-per-")
    assert (body["type"], body["environment"]) == ("test", "staging")
    assert body["rate_limit_per_minute"] == 30
    assert body["expires_at"] == "2099-06-01T10:00:00Z"
    assert body["ip_allowlist"] == ["10.0.0.0/8", "192.0.2.7/32"]


@pytest.mark.parametrize(
    "expires_at", ["2099-01-01", "2099-01-01T00:00Z", "20990101T000000Z", "2099-01-01 00:00:00"]
)
def test_expires_at_takes_any_iso_8601_form(manager, expires_at):
    _, client = manager
    response = _post(client, "/api/v1/keys", {"name": "k", "expires_at": expires_at})
    assert response.status_code == 201, response.json()
    assert response.json()["expires_at"].startswith("2099-01-01T00:00:00")


def test_create_is_audited_with_the_key_as_actor(manager):
    key, client = manager
    body = _post(
        client,
        "/api/v1/keys",
        {"name": "Audited"},
    ).json()
    event = AuditEvent.objects.get(action="api_key.created", target_id=body["id"])
    assert event.actor_type == AuditEvent.ActorType.API_KEY
    assert event.actor_key_id == key.pk
    assert event.ip_address == "127.0.0.1"
    assert ApiKey.objects.get(key_id=body["id"]).created_by_key_id == key.pk


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "k", "colour": "red"}, "colour"),
        ({}, "name"),
        ({"name": 12}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "k", "type": "gold"}, "type"),
        ({"name": "k", "permissions": "jobs:read"}, "permissions"),
        ({"name": "k", "permissions": ["jobs:delete"]}, "permissions.0"),
        ({"name": "k", "permissions": []}, "permissions"),
        ({"name": "k", "rate_limit_per_minute": "10"}, "rate_limit_per_minute"),
        ({"name": "k", "rate_limit_per_minute": 10**9}, "rate_limit_per_minute"),
        ({"name": "k", "rate_limit_per_minute": 0}, "rate_limit_per_minute"),
        ({"name": "k", "ip_allowlist": ["10.0.0.0/33"]}, "ip_allowlist"),
        ({"name": "k", "ip_allowlist": ["not-an-ip"]}, "ip_allowlist"),
        ({"name": "k", "ip_allowlist": "10.0.0.0/8"}, "ip_allowlist"),
        ({"name": "k", "expires_at": "2001-01-01T00:00:00Z"}, "expires_at"),
        ({"name": "k", "expires_at": "tomorrow"}, "expires_at"),
        ({"name": "k", "expires_at": 4102444800}, "expires_at"),
        ({"name": "k", "expires_at": "9999-12-31T23:59:59-05:00"}, "expires_at"),
    ],
)
def test_bad_create_bodies_get_400_with_field_errors(manager, body, field):
    key, client = manager
    before = ApiKey.objects.count()
    response = _post(client, "/api/v1/keys", body)
    assert response.status_code == 400, response.json()
    assert _code(response) == "invalid_request"
    assert field in response.json()["error"]["fields"]
    assert ApiKey.objects.count() == before


@pytest.mark.parametrize("body", [b"[1, 2]", b'"name"', b"{", b"\xff\xfe"])
def test_malformed_json_gets_400(manager, body):
    _, client = manager
    response = client.post("/api/v1/keys", body, content_type="application/json")
    assert response.status_code == 400
    assert _code(response) == "invalid_request"


def test_form_encoded_body_gets_415(manager):
    _, client = manager
    response = client.post(
        "/api/v1/keys", "name=k", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 415
    assert _code(response) == "unsupported_media_type"


def test_key_cannot_grant_permissions_it_lacks(org, make_key, client_for):
    _, plaintext = make_key(org, permissions=["keys:manage", "jobs:read"])
    client = client_for(plaintext)
    response = _post(client, "/api/v1/keys", {"name": "k", "permissions": ["jobs:write"]})
    assert response.status_code == 403
    assert _code(response) == "exceeds_own_privileges"
    assert list(response.json()["error"]["fields"]) == ["permissions"]
    assert (
        _post(client, "/api/v1/keys", {"name": "k", "permissions": ["jobs:read"]}).status_code
        == 201
    )


def test_create_beyond_the_plan_limit_gets_key_limit_reached(org, manager, make_key):
    key, client = manager
    org.plan.test_key_limit = 2
    org.plan.save()
    make_key(org, type="test")
    assert _post(client, "/api/v1/keys", {"name": "k", "type": "test"}).status_code == 201
    response = _post(client, "/api/v1/keys", {"name": "k", "type": "test"})
    assert response.status_code == 403
    assert _code(response) == "key_limit_reached"
    assert ApiKey.objects.filter(organization=org, type="test").count() == 2


# --- read --------------------------------------------------------------------------------------


def test_key_without_keys_manage_gets_403_on_every_endpoint(org, make_key, client_for):
    target, _ = make_key(org)
    _, plaintext = make_key(org, permissions=["jobs:read", "jobs:write", "usage:read"])
    client = client_for(plaintext)
    url = f"/api/v1/keys/{target.key_id}"
    calls = [
        client.get("/api/v1/keys"),
        _post(client, "/api/v1/keys", {"name": "k"}),
        client.get(url),
        _patch(client, url, {"name": "x"}),
        client.delete(url),
        *(_post(client, f"{url}/{a}") for a in ("revoke", "disable", "enable", "rotate")),
    ]
    for response in calls:
        assert response.status_code == 403
        assert _code(response) == "insufficient_permissions"
    target.refresh_from_db()
    assert target.status == "active"


def test_keys_of_another_organization_are_not_found(make_org, make_key, manager):
    _, client = manager
    other, _ = make_key(make_org())
    url = f"/api/v1/keys/{other.key_id}"
    calls = [
        client.get(url),
        _patch(client, url, {"name": "x"}),
        client.delete(url),
        *(_post(client, f"{url}/{a}") for a in ("revoke", "disable", "enable", "rotate")),
    ]
    for response in calls:
        assert response.status_code == 404
        assert _code(response) == "key_not_found"
    other.refresh_from_db()
    assert (other.status, other.name) == ("active", other.name)
    ids = [k["id"] for k in client.get("/api/v1/keys").json()["results"]]
    assert other.key_id not in ids


def test_a_test_key_sees_only_test_keys_and_no_live_key_exists_for_it(org, make_key, client_for):
    """A test key with keys:manage (say, leaked from a CI job) learns nothing of the live keys:
    not in the list whatever the filter, and 404 for every request that names one."""
    _, plaintext = make_key(org, name="CI", type="test", permissions=ALL)
    client = client_for(plaintext)
    sibling, _ = make_key(org, name="Other test", type="test")
    live, _ = make_key(org, name="Production", ip_allowlist=["203.0.113.7/32"])
    url = f"/api/v1/keys/{live.key_id}"
    calls = [
        client.get(url),
        _patch(client, url, {"name": "x"}),
        client.delete(url),
        *(_post(client, f"{url}/{a}") for a in ("revoke", "disable", "enable", "rotate")),
    ]
    for response in calls:
        assert response.status_code == 404
        assert _code(response) == "key_not_found"
        assert "203.0.113.7" not in response.content.decode()
    live.refresh_from_db()
    assert (live.status, live.name) == ("active", "Production")
    for query in ("", "?type=live", "?status=active", "?environment=production"):
        listed = client.get(f"/api/v1/keys{query}").json()["results"]
        assert live.key_id not in {k["id"] for k in listed}
        assert {k["type"] for k in listed} <= {"test"}
    listed = {k["id"] for k in client.get("/api/v1/keys").json()["results"]}
    assert sibling.key_id in listed
    assert client.get(f"/api/v1/keys/{sibling.key_id}").status_code == 200


def test_a_live_key_still_manages_test_keys(org, make_key, manager):
    _, client = manager
    test_key, _ = make_key(org, type="test")
    assert client.get(f"/api/v1/keys/{test_key.key_id}").status_code == 200
    assert test_key.key_id in {k["id"] for k in client.get("/api/v1/keys").json()["results"]}


def test_get_a_key(manager):
    key, client = manager
    body = client.get(f"/api/v1/keys/{key.key_id}").json()
    assert body["id"] == key.key_id
    assert body["hint"] == key.hint
    assert body["permissions"] == ALL
    assert body["rate_limit_per_minute"] == key.organization.plan.rate_limit_per_minute
    assert body["project"] == key.project_id
    assert set(body) == {
        "id",
        "project",
        "name",
        "hint",
        "type",
        "environment",
        "permissions",
        "allowed_models",
        "status",
        "rate_limit_per_minute",
        "ip_allowlist",
        "spend_limit_credits",
        "spend_limit_period",
        "expires_at",
        "created_at",
        "last_used_at",
        "last_used_ip",
        "revoked_reason",
        "exposure_source",
        "exposure_url",
    }
    assert (body["revoked_reason"], body["exposure_source"], body["exposure_url"]) == (
        None,
        None,
        None,
    )


def test_list_is_paginated_with_a_next_url(org, make_key, manager):
    for _ in range(4):
        make_key(org)
    _, client = manager
    seen, url, pages = [], "/api/v1/keys?limit=2", 0
    while url:
        body = client.get(url).json()
        assert set(body) == {"results", "next"}
        assert len(body["results"]) <= 2
        seen += [k["id"] for k in body["results"]]
        url, pages = body["next"], pages + 1
    assert pages == 3
    assert len(seen) == len(set(seen)) == 5


def test_list_filters_by_status_type_and_environment(org, make_key, manager):
    _, client = manager
    test_key, _ = make_key(org, type="test", environment="staging")
    revoked, _ = make_key(org)
    apikey_revoke(key=revoked, actor=SYSTEM)
    expiring, _ = make_key(org, expires_at=timezone.now() + timedelta(minutes=5))
    ApiKey.objects.filter(pk=expiring.pk).update(expires_at=timezone.now() - timedelta(minutes=1))

    def ids(query):
        response = client.get(f"/api/v1/keys?{query}")
        assert response.status_code == 200
        return {k["id"] for k in response.json()["results"]}

    assert ids("type=test") == {test_key.key_id}
    assert ids("environment=staging") == {test_key.key_id}
    assert ids("status=revoked") == {revoked.key_id}
    assert ids("status=expired") == {expiring.key_id}
    assert revoked.key_id not in ids("status=active")
    assert expiring.key_id not in ids("status=active")


@pytest.mark.parametrize("query", ["status=lost", "type=gold", "environment=moon", "cursor=zz"])
def test_bad_list_filters_get_400(manager, query):
    _, client = manager
    response = client.get(f"/api/v1/keys?{query}")
    assert response.status_code == 400
    assert _code(response) == "invalid_request"


# --- change ------------------------------------------------------------------------------------


def test_patch_changes_only_what_is_given_and_is_audited(org, make_key, manager):
    actor, client = manager
    target, _ = make_key(org, name="Old", ip_allowlist=["10.0.0.0/8"])
    response = _patch(
        client,
        f"/api/v1/keys/{target.key_id}",
        {"name": "New", "rate_limit_per_minute": 5, "expires_at": "2099-01-01T00:00:00Z"},
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["name"], body["rate_limit_per_minute"]) == ("New", 5)
    assert body["ip_allowlist"] == ["10.0.0.0/8"]
    assert body["expires_at"] == "2099-01-01T00:00:00Z"
    event = AuditEvent.objects.get(action="api_key.updated", target_id=target.key_id)
    assert event.actor_key_id == actor.pk
    assert event.metadata["changes"]["name"] == {"from": "Old", "to": "New"}


def test_patch_with_nulls_clears_limit_expiry_and_allowlist(org, make_key, manager):
    _, client = manager
    target, _ = make_key(
        org,
        rate_limit_per_minute=5,
        expires_at=timezone.now() + timedelta(days=1),
        ip_allowlist=["10.0.0.0/8"],
    )
    body = _patch(
        client,
        f"/api/v1/keys/{target.key_id}",
        {"rate_limit_per_minute": None, "expires_at": None, "ip_allowlist": None},
    ).json()
    assert body["rate_limit_per_minute"] == org.plan.rate_limit_per_minute
    assert body["expires_at"] is None
    assert body["ip_allowlist"] == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"nmae": "typo"}, "nmae"),
        ({"permissions": ["admin"]}, "permissions.0"),
        ({"ip_allowlist": ["300.1.1.1"]}, "ip_allowlist"),
        ({"expires_at": "2000-01-01T00:00:00Z"}, "expires_at"),
        ({"rate_limit_per_minute": True}, "rate_limit_per_minute"),
        ({"name": ""}, "name"),
    ],
)
def test_bad_patch_bodies_get_400_and_change_nothing(org, make_key, manager, body, field):
    _, client = manager
    target, _ = make_key(org, name="Same")
    response = _patch(client, f"/api/v1/keys/{target.key_id}", body)
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
    target.refresh_from_db()
    assert target.name == "Same"
    assert not AuditEvent.objects.filter(action="api_key.updated").exists()


def test_patch_cannot_grant_permissions_the_key_lacks(org, make_key, client_for):
    target, _ = make_key(org, permissions=["jobs:read"])
    _, plaintext = make_key(org, permissions=["keys:manage", "jobs:read"])
    response = _patch(
        client_for(plaintext), f"/api/v1/keys/{target.key_id}", {"permissions": ["usage:read"]}
    )
    assert response.status_code == 403
    assert _code(response) == "exceeds_own_privileges"
    assert list(response.json()["error"]["fields"]) == ["permissions"]
    target.refresh_from_db()
    assert target.permissions == ["jobs:read"]


def test_patch_of_a_revoked_key_gets_key_revoked(org, make_key, manager):
    _, client = manager
    target, _ = make_key(org)
    apikey_revoke(key=target, actor=SYSTEM)
    response = _patch(client, f"/api/v1/keys/{target.key_id}", {"name": "x"})
    assert response.status_code == 409
    assert _code(response) == "key_revoked"


# --- status ------------------------------------------------------------------------------------


def test_disable_and_enable_a_key(org, make_key, manager, client_for):
    _, client = manager
    target, plaintext = make_key(org)
    url = f"/api/v1/keys/{target.key_id}"
    assert _post(client, f"{url}/disable").json()["status"] == "inactive"
    refused = client_for(plaintext).get("/api/v1/status/job_nope")
    assert (refused.status_code, _code(refused)) == (401, "api_key_inactive")
    assert _post(client, f"{url}/enable").json()["status"] == "active"
    assert client_for(plaintext).get("/api/v1/status/job_nope").status_code == 404
    actions = list(
        AuditEvent.objects.filter(target_id=target.key_id, actor_type="api_key")
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == ["api_key.disabled", "api_key.enabled"]


def test_enable_or_disable_a_revoked_key_gets_key_revoked(org, make_key, manager):
    _, client = manager
    target, _ = make_key(org)
    apikey_revoke(key=target, actor=SYSTEM)
    for action in ("enable", "disable"):
        response = _post(client, f"/api/v1/keys/{target.key_id}/{action}")
        assert response.status_code == 409
        assert _code(response) == "key_revoked"


def test_revoke_another_key(org, make_key, manager, client_for):
    actor, client = manager
    target, plaintext = make_key(org)
    response = _post(client, f"/api/v1/keys/{target.key_id}/revoke")
    assert response.json()["status"] == "revoked"
    refused = client_for(plaintext).get("/api/v1/status/job_nope")
    assert (refused.status_code, _code(refused)) == (401, "api_key_revoked")
    event = AuditEvent.objects.get(action="api_key.revoked", target_id=target.key_id)
    assert event.actor_key_id == actor.pk


def test_key_can_revoke_itself_and_then_gets_401(manager):
    key, client = manager
    response = _post(client, f"/api/v1/keys/{key.key_id}/revoke")
    assert response.status_code == 200
    assert response.json()["status"] == "revoked"
    after = client.get("/api/v1/keys")
    assert after.status_code == 401
    assert _code(after) == "api_key_revoked"
    event = AuditEvent.objects.get(action="api_key.revoked", target_id=key.key_id)
    assert event.actor_key_id == key.pk


# --- rotate ------------------------------------------------------------------------------------


def test_rotate_returns_a_new_secret_and_stops_the_old_one(org, make_key, manager, client_for):
    _, client = manager
    target, old = make_key(org)
    response = _post(client, f"/api/v1/keys/{target.key_id}/rotate")
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    assert body["id"] == target.key_id
    assert body["key"] != old
    assert client_for(old).get("/api/v1/status/job_nope").status_code == 401
    assert client_for(body["key"]).get("/api/v1/status/job_nope").status_code == 404
    assert AuditEvent.objects.filter(action="api_key.rotated", actor_type="api_key").exists()


def test_rotate_with_a_grace_period_keeps_the_old_secret_working(
    org, make_key, manager, client_for
):
    _, client = manager
    target, old = make_key(org)
    body = _post(
        client, f"/api/v1/keys/{target.key_id}/rotate", {"grace_period_seconds": 7 * 86400}
    ).json()
    assert client_for(old).get("/api/v1/status/job_nope").status_code == 404
    assert client_for(body["key"]).get("/api/v1/status/job_nope").status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {"grace_period_seconds": 7 * 86400 + 1},
        {"grace_period_seconds": -1},
        {"grace_period_seconds": "60"},
        {"grace": 60},
    ],
)
def test_bad_rotate_bodies_get_400_and_keep_the_secret(org, make_key, manager, client_for, body):
    _, client = manager
    target, old = make_key(org)
    response = _post(client, f"/api/v1/keys/{target.key_id}/rotate", body)
    assert response.status_code == 400
    assert _code(response) == "invalid_request"
    assert client_for(old).get("/api/v1/status/job_nope").status_code == 404


def test_key_cannot_rotate_a_key_stronger_than_itself(org, make_key, client_for):
    target, old = make_key(org, permissions=["jobs:write", "usage:read"])
    _, plaintext = make_key(org, permissions=["keys:manage", "usage:read"])
    response = _post(client_for(plaintext), f"/api/v1/keys/{target.key_id}/rotate")
    assert response.status_code == 403
    assert _code(response) == "exceeds_own_privileges"
    assert list(response.json()["error"]["fields"]) == ["permissions"]
    assert client_for(old).get("/api/v1/usage").status_code == 200


# --- delete ------------------------------------------------------------------------------------


def test_delete_refuses_a_key_that_is_not_revoked(org, make_key, manager):
    _, client = manager
    target, _ = make_key(org)
    response = client.delete(f"/api/v1/keys/{target.key_id}")
    assert response.status_code == 409
    assert _code(response) == "key_not_revoked"
    target.refresh_from_db()
    assert target.deleted_at is None


def test_deleted_key_is_hidden_but_its_jobs_stay(org, make_key, manager, client_for):
    _, client = manager
    target, plaintext = make_key(org)
    submitted = client_for(plaintext).post("/api/v1/generate", {"prompt": "hi"}, format="json")
    assert submitted.status_code == 202
    _post(client, f"/api/v1/keys/{target.key_id}/revoke")
    response = client.delete(f"/api/v1/keys/{target.key_id}")
    assert response.status_code == 204
    assert client.get(f"/api/v1/keys/{target.key_id}").status_code == 404
    assert target.key_id not in {k["id"] for k in client.get("/api/v1/keys").json()["results"]}
    target.refresh_from_db()
    assert target.deleted_at is not None
    assert target.jobs.filter(job_id=submitted.json()["job_id"]).exists()
    assert AuditEvent.objects.filter(action="api_key.deleted", actor_type="api_key").exists()
