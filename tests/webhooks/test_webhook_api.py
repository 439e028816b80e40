"""``/api/v1/webhooks…``: register, list, change, rotate and delete endpoints, and every refusal
(another tenant, a test key on live endpoints, a weaker key, bad or huge input) writes nothing."""

import pytest
from django.db import connection

from accounts.models import AuditEvent
from apikeys.keys.models import Permission
from webhooks.models import WebhookDelivery, WebhookEndpoint

URL = "https://hooks.example.com/perceptis"
EVENTS = ["job.succeeded", "job.failed"]


def create(client, **body):
    return client.post("/api/v1/webhooks", {"url": URL, "events": EVENTS, **body}, format="json")


def error(response) -> str:
    return response.json()["error"]["code"]


@pytest.fixture
def api_manager(client_for, manager):
    return client_for(manager[1])


def test_create_returns_the_secret_once_and_lists_never_show_it(api_manager, manager):
    response = create(api_manager, description="Production receiver")

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["id"].startswith("we_") and not body["id"][3:].isdigit()
    assert body["secret"].startswith("whsec_")
    assert (body["url"], body["events"], body["environment"]) == (URL, EVENTS, "live")
    assert body["enabled"] is True
    assert response["Cache-Control"] == "no-store"
    secret = body["secret"]
    listed = api_manager.get("/api/v1/webhooks")
    detail = api_manager.get(f"/api/v1/webhooks/{body['id']}")
    assert listed.status_code == detail.status_code == 200
    assert listed.json()["results"][0]["id"] == body["id"]
    assert listed.json()["next"] is None
    assert secret not in listed.content.decode() and secret not in detail.content.decode()
    assert "secret" not in detail.json()
    # Stored encrypted, not as it was shown.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT secret FROM webhooks_webhookendpoint WHERE public_id = %s", [body["id"]]
        )
        stored = cursor.fetchone()[0]
    assert stored.startswith("enc1:") and secret.removeprefix("whsec_") not in stored


def test_every_change_is_audited_with_the_key_as_actor_and_never_the_secret(api_manager, manager):
    created = create(api_manager).json()
    endpoint_id = created["id"]
    api_manager.patch(f"/api/v1/webhooks/{endpoint_id}", {"enabled": False}, format="json")
    rotated = api_manager.post(f"/api/v1/webhooks/{endpoint_id}/rotate-secret").json()
    api_manager.delete(f"/api/v1/webhooks/{endpoint_id}")

    rows = AuditEvent.objects.filter(target_id=endpoint_id).order_by("pk")
    assert [r.action for r in rows] == [
        "webhook_endpoint.created",
        "webhook_endpoint.updated",
        "webhook_endpoint.secret_rotated",
        "webhook_endpoint.deleted",
    ]
    assert {r.actor_key_id for r in rows} == {manager[0].pk}
    text = " ".join(str(r.metadata) for r in rows)
    for secret in (created["secret"], rotated["secret"]):
        assert secret not in text and secret.removeprefix("whsec_") not in text


def test_patch_changes_url_events_description_and_enabled(api_manager):
    endpoint_id = create(api_manager).json()["id"]

    response = api_manager.patch(
        f"/api/v1/webhooks/{endpoint_id}",
        {
            "url": "https://other.example.com/in",
            "events": ["job.canceled"],
            "description": "Cancellations",
            "enabled": False,
        },
        format="json",
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["url"], body["events"], body["description"], body["enabled"]) == (
        "https://other.example.com/in",
        ["job.canceled"],
        "Cancellations",
        False,
    )


def test_rotation_returns_a_new_secret_once(api_manager):
    created = create(api_manager).json()

    response = api_manager.post(f"/api/v1/webhooks/{created['id']}/rotate-secret")

    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    assert response.json()["secret"].startswith("whsec_")
    assert response.json()["secret"] != created["secret"]


def test_delete_removes_the_endpoint(api_manager):
    endpoint_id = create(api_manager).json()["id"]

    assert api_manager.delete(f"/api/v1/webhooks/{endpoint_id}").status_code == 204
    assert api_manager.get(f"/api/v1/webhooks/{endpoint_id}").status_code == 404
    assert not WebhookEndpoint.objects.filter(public_id=endpoint_id).exists()


def test_another_organizations_endpoint_is_not_found(api_manager, make_org, make_key, client_for):
    endpoint_id = create(api_manager).json()["id"]
    other_org = make_org()
    _, other = make_key(other_org, permissions=[Permission.KEYS_MANAGE])
    stranger = client_for(other)

    for response in (
        stranger.get(f"/api/v1/webhooks/{endpoint_id}"),
        stranger.patch(f"/api/v1/webhooks/{endpoint_id}", {"enabled": False}, format="json"),
        stranger.post(f"/api/v1/webhooks/{endpoint_id}/rotate-secret"),
        stranger.get(f"/api/v1/webhooks/{endpoint_id}/deliveries"),
        stranger.delete(f"/api/v1/webhooks/{endpoint_id}"),
    ):
        assert response.status_code == 404
        assert error(response) == "webhook_not_found"
    assert stranger.get("/api/v1/webhooks").json()["results"] == []
    endpoint = WebhookEndpoint.objects.get(public_id=endpoint_id)
    assert endpoint.enabled is True
    assert AuditEvent.objects.filter(target_id=endpoint_id).count() == 1


def test_a_test_key_neither_sees_nor_changes_live_endpoints(api_manager, test_manager, client_for):
    live_id = create(api_manager).json()["id"]
    test_client = client_for(test_manager[1])

    assert test_client.get(f"/api/v1/webhooks/{live_id}").status_code == 404
    patched = test_client.patch(f"/api/v1/webhooks/{live_id}", {"enabled": False}, format="json")
    assert patched.status_code == 404 and error(patched) == "webhook_not_found"
    assert test_client.delete(f"/api/v1/webhooks/{live_id}").status_code == 404
    assert test_client.post(f"/api/v1/webhooks/{live_id}/rotate-secret").status_code == 404
    assert test_client.get("/api/v1/webhooks").json()["results"] == []
    assert WebhookEndpoint.objects.get(public_id=live_id).enabled is True

    test_endpoint = create(test_client).json()
    assert test_endpoint["environment"] == "test"
    assert [e["id"] for e in api_manager.get("/api/v1/webhooks").json()["results"]] == [live_id]


def test_a_key_without_keys_manage_is_refused(org, make_key, client_for):
    _, plaintext = make_key(org)  # jobs:write + jobs:read
    client = client_for(plaintext)

    assert error(create(client)) == "insufficient_permissions"
    assert create(client).status_code == 403
    assert client.get("/api/v1/webhooks").status_code == 403
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.parametrize(
    "body, field",
    [
        ({"url": "http://hooks.example.com/x"}, "url"),
        ({"url": "ftp://hooks.example.com/x"}, "url"),
        ({"url": "not a url"}, "url"),
        ({"url": "https://user:pw@hooks.example.com/x"}, "url"),
        ({"url": "https://hooks.example.com:8443/x"}, "url"),
        ({"url": "https://hooks.example.com/\x7f"}, "url"),
        ({"url": 42}, "url"),
        ({"events": ["job.exploded"]}, "events"),
        ({"events": []}, "events"),
        ({"events": "job.succeeded"}, "events"),
        ({"enabled": "yes"}, "enabled"),
        ({"secret": "whsec_mine"}, "secret"),
        ({"environment": "live"}, "environment"),
        ({"url": "https://hooks.example.com/" + "a" * 100_000}, "url"),
        ({"description": "x" * 500}, "description"),
        ({"events": ["job.succeeded"] * 1000}, "events"),
    ],
)
def test_invalid_bodies_are_refused_and_nothing_is_written(api_manager, settings, body, field):
    settings.WEBHOOKS_REQUIRE_HTTPS = True

    response = create(api_manager, **body)

    assert response.status_code == 400, response.content
    assert error(response) == "invalid_request"
    assert field in response.json()["error"]["fields"]
    assert not WebhookEndpoint.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="webhook_endpoint.").exists()


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/x",
        "https://10.0.0.5/x",
        "https://169.254.169.254/latest/meta-data/",
        "https://[::1]/x",
        "https://localhost/x",
        "https://[::ffff:10.0.0.1]/x",
    ],
)
def test_private_addresses_are_refused_when_not_allowed(api_manager, settings, url):
    settings.OUTBOUND_ALLOW_PRIVATE_ADDRESSES = False
    settings.APIKEYS_ALERT_ALLOW_PRIVATE_URLS = False

    response = create(api_manager, url=url)

    assert response.status_code == 400
    assert "url" in response.json()["error"]["fields"]
    assert not WebhookEndpoint.objects.exists()


def test_patch_refuses_unknown_fields_and_bad_values_without_changing_anything(api_manager):
    endpoint_id = create(api_manager).json()["id"]
    before = AuditEvent.objects.count()

    for body in ({"secret": "x"}, {"url": "ftp://x"}, {"events": ["nope"]}, {"enabled": 1}):
        response = api_manager.patch(f"/api/v1/webhooks/{endpoint_id}", body, format="json")
        assert response.status_code == 400, body
        assert error(response) == "invalid_request"
    endpoint = WebhookEndpoint.objects.get(public_id=endpoint_id)
    assert (endpoint.url, endpoint.events, endpoint.enabled) == (URL, EVENTS, True)
    assert AuditEvent.objects.count() == before


def test_an_organization_has_at_most_the_endpoint_cap(api_manager, settings):
    settings.WEBHOOKS_MAX_ENDPOINTS = 3
    for _ in range(3):
        assert create(api_manager).status_code == 201

    response = create(api_manager)

    assert response.status_code == 403
    assert error(response) == "webhook_limit_reached"
    assert WebhookEndpoint.objects.count() == 3


@pytest.mark.parametrize("endpoint_id", ["we_missing", "1", "we_\x00", "we_" + "a" * 5000, "../x"])
def test_odd_ids_are_not_found(api_manager, endpoint_id):
    response = api_manager.get(f"/api/v1/webhooks/{endpoint_id}")

    assert response.status_code == 404
    assert response.json()["error"]["code"] in ("webhook_not_found", "not_found")


def test_non_json_bodies_are_refused(api_manager):
    response = api_manager.post("/api/v1/webhooks", "url=x", content_type="text/plain")
    assert response.status_code == 415
    broken = api_manager.post("/api/v1/webhooks", "{", content_type="application/json")
    assert broken.status_code == 400
    listed = api_manager.post("/api/v1/webhooks", "[1, 2]", content_type="application/json")
    assert listed.status_code == 400
    assert not WebhookEndpoint.objects.exists()


def test_the_deliveries_log_is_paginated_newest_first(api_manager):
    endpoint_id = create(api_manager).json()["id"]
    endpoint = WebhookEndpoint.objects.get(public_id=endpoint_id)
    made = [
        WebhookDelivery.objects.create(endpoint=endpoint, event_type="job.succeeded", payload={})
        for _ in range(3)
    ]

    first = api_manager.get(f"/api/v1/webhooks/{endpoint_id}/deliveries?limit=2").json()
    second = api_manager.get(first["next"]).json()

    ids = [d["id"] for d in first["results"] + second["results"]]
    assert ids == [d.public_id for d in reversed(made)]
    assert second["next"] is None
    assert set(first["results"][0]) >= {
        "status",
        "attempts",
        "last_response_status",
        "last_attempt_at",
        "last_duration_ms",
        "next_attempt_at",
    }


@pytest.mark.parametrize(
    "raw",
    [
        '{"url": "https://hooks.example.com/x", "events": ' + "[" * 5000 + "]" * 5000 + "}",
        '{"url": "' + "a" * (2 * 1024 * 1024) + '", "events": ["job.succeeded"]}',
        '{"url": "https://hooks.example.com/x", "events": ["job.succeeded"], "\\ud800": 1}',
    ],
    ids=["deeply-nested", "two-megabytes", "lone-surrogate"],
)
def test_huge_or_malformed_bodies_are_refused_without_a_500(api_manager, raw):
    response = api_manager.post("/api/v1/webhooks", raw, content_type="application/json")

    assert 400 <= response.status_code < 500, response.content[:300]
    assert "error" in response.json()
    assert not WebhookEndpoint.objects.exists()
