"""Per-key rate limits and the test-key daily quota, on every authenticated response."""

import time

import pytest
from django.db import connection

from tests.helpers import requires_redis
from tests.spawn_clients import serve_in_processes

pytestmark = pytest.mark.usefixtures("one_minute")


def _code(response):
    return response.json()["error"]["code"]


def test_ratelimit_headers_count_down_then_429_with_retry_after(org, make_key, client_for):
    _, plaintext = make_key(org, permissions=["usage:read"], rate_limit_per_minute=3)
    client = client_for(plaintext)
    remaining = []
    for _ in range(3):
        response = client.get("/api/v1/usage")
        assert response.status_code == 200
        assert response["RateLimit-Limit"] == "3"
        assert 1 <= int(response["RateLimit-Reset"]) <= 60
        remaining.append(int(response["RateLimit-Remaining"]))
    assert remaining == [2, 1, 0]
    refused = client.get("/api/v1/usage")
    assert refused.status_code == 429
    assert _code(refused) == "rate_limited"
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert refused["RateLimit-Remaining"] == "0"


def test_refusals_after_authentication_carry_ratelimit_headers(org, make_key, client_for):
    _, plaintext = make_key(org, permissions=["jobs:read"])
    response = client_for(plaintext).get("/api/v1/keys")
    assert response.status_code == 403
    assert response["RateLimit-Limit"] == str(org.plan.rate_limit_per_minute)


def test_unauthenticated_refusals_have_no_ratelimit_headers(api):
    response = api.get("/api/v1/keys")
    assert response.status_code == 401
    assert "RateLimit-Limit" not in response


def test_lowering_a_keys_limit_applies_to_its_next_request(org, make_key, client_for):
    key, plaintext = make_key(org, permissions=["usage:read", "keys:manage"])
    client = client_for(plaintext)
    client.patch(f"/api/v1/keys/{key.key_id}", {"rate_limit_per_minute": 2}, format="json")
    response = client.get("/api/v1/usage")
    assert response["RateLimit-Limit"] == "2"


def test_limits_are_per_key(org, make_key, client_for):
    _, first = make_key(org, permissions=["usage:read"], rate_limit_per_minute=1)
    _, second = make_key(org, permissions=["usage:read"], rate_limit_per_minute=1)
    assert client_for(first).get("/api/v1/usage").status_code == 200
    assert client_for(first).get("/api/v1/usage").status_code == 429
    assert client_for(second).get("/api/v1/usage").status_code == 200


def test_test_key_gets_100_requests_a_day_then_daily_quota_exceeded(make_org, make_key, client_for):
    org = make_org(plan="enterprise", credits=0)
    _, plaintext = make_key(org, type="test", permissions=["jobs:read"])
    client = client_for(plaintext)
    statuses = {client.get("/api/v1/status/job_none").status_code for _ in range(100)}
    assert statuses == {404}
    refused = client.get("/api/v1/status/job_none")
    assert refused.status_code == 429
    assert _code(refused) == "daily_quota_exceeded"
    seconds_to_midnight = 86400 - int(time.time()) % 86400
    assert abs(int(refused["Retry-After"]) - seconds_to_midnight) <= 5


def test_live_keys_have_no_daily_quota(make_org, make_key, client_for):
    org = make_org(plan="enterprise")
    _, plaintext = make_key(org, permissions=["jobs:read"])
    client = client_for(plaintext)
    statuses = {client.get("/api/v1/status/job_none").status_code for _ in range(101)}
    assert statuses == {404}


@requires_redis
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_limit_holds_across_processes(make_org, make_key):
    org = make_org()
    _, plaintext = make_key(org, permissions=["usage:read"], rate_limit_per_minute=10)
    windows = []

    def start_early_in_a_minute():
        # Fire inside one one-minute window, so that exactly the limit may pass.
        if time.time() % 60 > 50:
            time.sleep(60.5 - time.time() % 60)
        windows.append(int(time.time() // 60))

    responses = serve_in_processes(
        db_name=connection.settings_dict["NAME"],
        plaintext=plaintext,
        paths=["/api/v1/usage"] * 8,
        processes=4,
        before_go=start_early_in_a_minute,
    )
    windows.append(int(time.time() // 60))
    passed = [r for r in responses if r[0] == 200]
    refused = [r for r in responses if r[0] == 429]
    assert len(passed) + len(refused) == 32
    assert all(r[3] == "rate_limited" and int(r[2]) >= 1 for r in refused)
    if windows[0] == windows[1]:
        # Each passing request saw its own count: the counter is atomic across processes.
        assert sorted(int(r[1]) for r in passed) == list(range(10))
    else:  # the run spilled into the next window: each window allows the limit once
        assert len(passed) <= 20
