"""GET /api/v1/usage: the organization's credit balance and usage per key."""

from datetime import timedelta

from django.utils import timezone

from apikeys.keys.services import apikey_delete, apikey_revoke
from apikeys.usage import metering
from billing.selectors import credits_balance
from tests.helpers import SYSTEM


def _record(key, *, ago: timedelta, status=200, latency_ms=20.0):
    metering.record(
        api_key_id=key.pk,
        organization_id=key.organization_id,
        method="GET",
        path="/api/v1/status/job_x",
        status=status,
        error_code="",
        latency_ms=latency_ms,
        client_ip=None,
        user_agent="",
        request_id="req_x",
        now=timezone.now() - ago,
    )


def test_usage_needs_usage_read(org, make_key, client_for):
    _, plaintext = make_key(org, permissions=["jobs:read"])
    response = client_for(plaintext).get("/api/v1/usage")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "insufficient_permissions"


def test_usage_reports_balance_and_each_window_per_key(make_org, make_key, client_for):
    org = make_org(credits=250)
    reader, plaintext = make_key(org, name="Reader", permissions=["usage:read"])
    busy, _ = make_key(org, name="Busy", type="test")
    _record(busy, ago=timedelta(minutes=5))
    _record(busy, ago=timedelta(minutes=5), status=500, latency_ms=400)
    _record(busy, ago=timedelta(days=3))
    _record(busy, ago=timedelta(days=20))
    _record(busy, ago=timedelta(days=40))
    metering.flush()

    response = client_for(plaintext).get("/api/v1/usage")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"as_of", "credits", "totals", "keys"}
    assert body["credits"] == {"balance": credits_balance(organization=org)} == {"balance": 250}
    keys = {k["id"]: k for k in body["keys"]}
    assert set(keys) == {reader.key_id, busy.key_id}
    usage = keys[busy.key_id]["usage"]
    assert keys[busy.key_id]["type"] == "test"
    assert [usage[w]["requests"] for w in ("24h", "7d", "30d")] == [2, 3, 4]
    assert usage["24h"]["errors"] == 1
    assert usage["24h"]["error_rate"] == 0.5
    assert usage["24h"]["p50_ms"] is not None and usage["24h"]["p95_ms"] > 250
    assert keys[reader.key_id]["usage"]["30d"] == {
        "requests": 0,
        "errors": 0,
        "error_rate": 0.0,
        "p50_ms": None,
        "p95_ms": None,
    }
    assert body["totals"]["30d"]["requests"] == 4


def test_usage_counts_the_api_requests_themselves(org, make_key, client_for):
    key, plaintext = make_key(org, permissions=["usage:read"])
    client = client_for(plaintext)
    client.get("/api/v1/usage")
    client.get("/api/v1/usage")
    metering.flush()
    body = client.get("/api/v1/usage").json()
    (entry,) = body["keys"]
    assert entry["id"] == key.key_id
    assert entry["usage"]["24h"]["requests"] == 2


def test_usage_shows_no_other_organization_and_no_deleted_key(make_org, make_key, client_for):
    org = make_org()
    _, plaintext = make_key(org, permissions=["usage:read"])
    gone, _ = make_key(org)
    apikey_revoke(key=gone, actor=SYSTEM)
    apikey_delete(key=gone, actor=SYSTEM)
    stranger, _ = make_key(make_org())
    _record(stranger, ago=timedelta(minutes=1))
    metering.flush()
    body = client_for(plaintext).get("/api/v1/usage").json()
    ids = {k["id"] for k in body["keys"]}
    assert gone.key_id not in ids
    assert stranger.key_id not in ids
    assert body["totals"]["24h"]["requests"] == 0


def test_a_test_key_sees_only_test_keys_and_their_usage(org, make_key, client_for):
    live, _ = make_key(org, name="Production")
    other_test, _ = make_key(org, name="Staging", type="test")
    reader, plaintext = make_key(org, type="test", permissions=["usage:read"])
    _record(live, ago=timedelta(minutes=5))
    _record(live, ago=timedelta(minutes=5))
    _record(other_test, ago=timedelta(minutes=5))
    metering.flush()

    body = client_for(plaintext).get("/api/v1/usage").json()
    assert {k["id"] for k in body["keys"]} == {reader.key_id, other_test.key_id}
    assert "Production" not in str(body)
    assert body["totals"]["24h"]["requests"] == 1  # the staging key's, not the live key's


def test_a_live_key_sees_every_key_of_its_project(org, make_key, client_for):
    live, _ = make_key(org)
    test, _ = make_key(org, type="test")
    reader, plaintext = make_key(org, permissions=["usage:read"])
    _record(live, ago=timedelta(minutes=5))
    _record(test, ago=timedelta(minutes=5))
    metering.flush()

    body = client_for(plaintext).get("/api/v1/usage").json()
    assert {k["id"] for k in body["keys"]} == {live.key_id, test.key_id, reader.key_id}
    assert body["totals"]["24h"]["requests"] == 2
