"""Every row of the request pipeline, sent as a real HTTP request through the test client."""

from contextlib import contextmanager
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.test import RequestFactory
from django.utils import timezone
from rest_framework.response import Response
from rest_framework.test import APIClient
from rest_framework.views import APIView

from accounts.services import organization_set_plan
from apikeys.keys import keycache, keyformat, ratelimit
from apikeys.keys.pipeline import ANY_KEY
from apikeys.keys.services import apikey_disable, apikey_revoke
from billing.models import LedgerEntry
from jobs.models import Job
from jobs.services import job_run, job_submit
from tests.helpers import SYSTEM

GENERATE = "/api/v1/generate"
RATE_HEADERS = ("RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset")
# The start of a minute, so that two requests in a test never straddle a window.
MINUTE_START = 1_900_000_020.0


def status_url(job_id: str) -> str:
    return f"/api/v1/status/{job_id}"


def assert_error(response, status: int, code: str) -> dict:
    """Assert the JSON error shape, its code and that its request id is the header's."""
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert {"code", "message", "request_id"} <= set(error)
    assert error["code"] == code
    assert isinstance(error["message"], str) and error["message"]
    assert error["request_id"] == response["X-Request-ID"]
    return error


def assert_unauthenticated(response, code: str) -> None:
    assert_error(response, 401, code)
    assert response["WWW-Authenticate"].startswith("Bearer")
    for header in RATE_HEADERS:
        assert header not in response


def assert_rate_headers(response) -> None:
    for header in RATE_HEADERS:
        assert int(response[header]) >= 0


@pytest.fixture
def unchanged(db):
    """Return a context manager asserting that no job and no ledger row appears inside it."""

    @contextmanager
    def check():
        jobs, entries = Job.objects.count(), LedgerEntry.objects.count()
        yield
        assert Job.objects.count() == jobs
        assert LedgerEntry.objects.count() == entries

    return check


@pytest.fixture
def frozen_minute(monkeypatch):
    """Pin the rate limiter's clock to the start of one minute."""
    clock = SimpleNamespace(now=MINUTE_START)
    monkeypatch.setattr(ratelimit, "time", SimpleNamespace(time=lambda: clock.now))
    return clock


def post_generate(client: APIClient, body=None, **extra):
    return client.post(
        GENERATE, body if body is not None else {"prompt": "hi"}, format="json", **extra
    )


# --- 401: authentication ------------------------------------------------------------------


def test_request_without_authorization_header_gets_401_missing_api_key(api, live_key, unchanged):
    with unchanged():
        response = post_generate(api)
    assert_unauthenticated(response, "missing_api_key")


def test_request_with_basic_authorization_gets_401_missing_api_key(api, live_key, unchanged):
    with unchanged():
        response = post_generate(api, HTTP_AUTHORIZATION="Basic dXNlcjpwYXNz")
    assert_unauthenticated(response, "missing_api_key")


def test_malformed_key_gets_401_invalid_api_key(client_for, live_key, unchanged):
    with unchanged():
        response = post_generate(client_for("sk-live-per-not-a-real-key"))
    assert_unauthenticated(response, "invalid_api_key")


def test_key_with_bad_checksum_is_refused_without_a_query(
    client_for, live_key, django_assert_num_queries
):
    _, plaintext = live_key
    last = plaintext[-1]
    typo = plaintext[:-1] + ("A" if last != "A" else "B")
    client = client_for(typo)
    with django_assert_num_queries(0):
        response = post_generate(client)
    assert_unauthenticated(response, "invalid_api_key")


def test_well_formed_unknown_key_gets_401_invalid_api_key(client_for, live_key, unchanged):
    with unchanged():
        response = post_generate(client_for(keyformat.generate("live")))
    assert_unauthenticated(response, "invalid_api_key")


def test_revoked_key_gets_401(client_for, live_key, unchanged):
    key, plaintext = live_key
    apikey_revoke(key=key, actor=SYSTEM)
    with unchanged():
        response = post_generate(client_for(plaintext))
    assert_unauthenticated(response, "api_key_revoked")


def test_disabled_key_gets_401_inactive(client_for, live_key, unchanged):
    key, plaintext = live_key
    apikey_disable(key=key, actor=SYSTEM)
    with unchanged():
        response = post_generate(client_for(plaintext))
    assert_unauthenticated(response, "api_key_inactive")


def test_expired_key_gets_401(client_for, org, make_key, monkeypatch, unchanged):
    now = timezone.now()
    _, plaintext = make_key(org, expires_at=now + timedelta(hours=1))
    client = client_for(plaintext)
    assert post_generate(client).status_code == 202
    monkeypatch.setattr(timezone, "now", lambda: now + timedelta(hours=2))
    with unchanged():
        response = post_generate(client)
    assert_unauthenticated(response, "api_key_expired")


def test_key_of_another_environment_gets_401(client_for, org, make_key, settings, unchanged):
    settings.PERCEPTIS_ENVIRONMENT = "production"
    _, plaintext = make_key(org, environment="staging")
    with unchanged():
        response = post_generate(client_for(plaintext))
    assert_unauthenticated(response, "environment_mismatch")


# --- 403: access and permissions ----------------------------------------------------------


def test_client_ip_outside_allowlist_gets_403(client_for, org, make_key, unchanged):
    _, plaintext = make_key(org, ip_allowlist=["10.0.0.0/8"])
    client = client_for(plaintext)
    with unchanged():
        response = post_generate(client, REMOTE_ADDR="192.168.1.5")
    assert_error(response, 403, "ip_not_allowed")
    assert_rate_headers(response)
    assert post_generate(client, REMOTE_ADDR="10.1.2.3").status_code == 202


def test_organization_downgraded_to_free_gets_403_plan_not_eligible(
    client_for, org, live_key, unchanged
):
    _, plaintext = live_key
    client = client_for(plaintext)
    assert post_generate(client).status_code == 202
    organization_set_plan(organization=org, plan_code="free", actor=SYSTEM)
    with unchanged():
        response = post_generate(client)
    assert_error(response, 403, "plan_not_eligible")
    assert_rate_headers(response)


def test_key_without_jobs_write_cannot_generate(client_for, org, make_key, unchanged):
    _, plaintext = make_key(org, permissions=["jobs:read"])
    with unchanged():
        response = post_generate(client_for(plaintext))
    error = assert_error(response, 403, "insufficient_permissions")
    assert "jobs:write" in error["message"]
    assert_rate_headers(response)


def test_key_without_jobs_read_cannot_read_status(client_for, org, make_key, unchanged):
    key, plaintext = make_key(org, permissions=["jobs:write"])
    job = job_submit(key=key, prompt="hi").job
    with unchanged():
        response = client_for(plaintext).get(status_url(job.job_id))
    error = assert_error(response, 403, "insufficient_permissions")
    assert "jobs:read" in error["message"]
    assert_rate_headers(response)


# --- 429: limits --------------------------------------------------------------------------


def test_second_request_over_per_key_limit_gets_429(
    client_for, org, make_key, frozen_minute, unchanged
):
    _, plaintext = make_key(org, rate_limit_per_minute=1)
    client = client_for(plaintext)
    first = post_generate(client)
    assert first.status_code == 202
    assert first["RateLimit-Limit"] == "1"
    assert first["RateLimit-Remaining"] == "0"
    with unchanged():
        response = post_generate(client)
    assert_error(response, 429, "rate_limited")
    assert int(response["Retry-After"]) >= 1
    assert_rate_headers(response)
    assert response["RateLimit-Remaining"] == "0"
    frozen_minute.now += 60
    assert post_generate(client).status_code == 202


def test_test_key_over_daily_quota_gets_429(
    client_for, make_org, make_key, settings, frozen_minute, unchanged
):
    settings.APIKEYS_TEST_DAILY_QUOTA = 2
    org = make_org(credits=0)
    _, plaintext = make_key(org, type="test")
    client = client_for(plaintext)
    assert post_generate(client).status_code == 202
    assert post_generate(client).status_code == 202
    with unchanged():
        response = post_generate(client)
    assert_error(response, 429, "daily_quota_exceeded")
    assert int(response["Retry-After"]) >= 1
    assert_rate_headers(response)


def test_requests_refused_per_minute_do_not_count_toward_daily_quota(
    client_for, make_org, make_key, settings, frozen_minute
):
    settings.APIKEYS_TEST_DAILY_QUOTA = 3
    org = make_org(credits=0)
    _, plaintext = make_key(org, type="test", rate_limit_per_minute=2)
    client = client_for(plaintext)
    assert [post_generate(client).status_code for _ in range(4)] == [202, 202, 429, 429]
    frozen_minute.now += 60
    # Two requests counted so far; two refused ones did not, so one more fits the quota.
    assert post_generate(client).status_code == 202
    assert_error(post_generate(client), 429, "daily_quota_exceeded")


# --- 415 / 400: the body ------------------------------------------------------------------


def test_wrong_content_type_gets_415(client_for, live_key, unchanged):
    client = client_for(live_key[1])
    with unchanged():
        response = client.post(GENERATE, "prompt=hi", content_type="text/plain")
    assert_error(response, 415, "unsupported_media_type")
    assert_rate_headers(response)


def test_body_without_content_type_gets_415(client_for, live_key, unchanged):
    client = client_for(live_key[1])
    with unchanged():
        response = client.generic("POST", GENERATE, b'{"prompt": "hi"}', content_type="")
    assert_error(response, 415, "unsupported_media_type")
    assert_rate_headers(response)


def test_json_with_charset_is_accepted(client_for, live_key):
    response = client_for(live_key[1]).post(
        GENERATE, b'{"prompt": "hi"}', content_type="application/json; charset=utf-8"
    )
    assert response.status_code == 202, response.content
    assert response.json()["status"] == "queued"


def test_malformed_json_gets_400_invalid_request(client_for, live_key, unchanged):
    client = client_for(live_key[1])
    with unchanged():
        response = client.post(GENERATE, b'{"prompt": ', content_type="application/json")
    error = assert_error(response, 400, "invalid_request")
    assert error["fields"]
    assert_rate_headers(response)


def test_missing_prompt_gets_400_with_field_errors(client_for, live_key, unchanged):
    client = client_for(live_key[1])
    with unchanged():
        response = post_generate(client, {"options": {}})
    error = assert_error(response, 400, "invalid_request")
    assert list(error["fields"]) == ["prompt"]
    assert_rate_headers(response)


# --- 402 / 404 ----------------------------------------------------------------------------


def test_live_key_without_credits_gets_402(client_for, make_org, make_key, unchanged):
    org = make_org(credits=0)
    _, plaintext = make_key(org)
    with unchanged():
        response = post_generate(client_for(plaintext))
    assert_error(response, 402, "insufficient_credits")
    assert_rate_headers(response)


def test_job_of_another_key_of_same_org_is_not_found(client_for, org, make_key):
    owner, _ = make_key(org)
    _, other = make_key(org)
    job = job_submit(key=owner, prompt="hi").job
    response = client_for(other).get(status_url(job.job_id))
    error = assert_error(response, 404, "job_not_found")
    assert job.job_id not in error["message"]
    assert_rate_headers(response)


def test_unknown_job_id_is_not_found(client_for, live_key):
    response = client_for(live_key[1]).get(status_url("job_doesnotexist"))
    assert_error(response, 404, "job_not_found")
    assert_rate_headers(response)


def test_own_job_status_is_returned(client_for, live_key):
    key, plaintext = live_key
    job = job_submit(key=key, prompt="hi").job
    response = client_for(plaintext).get(status_url(job.job_id))
    assert response.status_code == 200
    assert response.json()["job_id"] == job.job_id
    assert_rate_headers(response)


# --- Framework responses under /api/v1/ ---------------------------------------------------


def test_unknown_api_path_is_a_json_404_with_request_id(api):
    response = api.get("/api/v1/nothing-here")
    assert_error(response, 404, "not_found")


def test_get_on_generate_is_a_json_405_with_request_id(client_for, live_key):
    response = client_for(live_key[1]).get(GENERATE)
    assert_error(response, 405, "method_not_allowed")
    assert_rate_headers(response)


def test_trailing_slash_is_not_redirected(client_for, live_key, unchanged):
    with unchanged():
        response = client_for(live_key[1]).post(GENERATE + "/", {"prompt": "hi"}, format="json")
    assert response.status_code not in (301, 302, 307, 308)
    assert "Location" not in response
    assert_error(response, 404, "not_found")


def test_client_supplied_request_id_is_echoed(api):
    response = api.get("/api/v1/nothing-here", HTTP_X_REQUEST_ID="client-req-12345")
    assert response["X-Request-ID"] == "client-req-12345"
    assert response.json()["error"]["request_id"] == "client-req-12345"


# --- Cost of the hot path -----------------------------------------------------------------


def test_status_request_runs_key_lookup_and_job_lookup_only(
    client_for, live_key, django_assert_num_queries
):
    key, plaintext = live_key
    job = job_submit(key=key, prompt="hi").job
    client = client_for(plaintext)
    assert client.get(status_url(job.job_id)).status_code == 200  # writes last use
    # With Redis the key comes from its cached record and the queued job's body from its read
    # model (no query); without, one join for the key and one query for the job.
    with django_assert_num_queries(0 if keycache.enabled() else 2):
        response = client.get(status_url(job.job_id))
    assert response.status_code == 200


def test_a_finished_job_is_polled_without_a_query(
    client_for, live_key, make_key, django_assert_num_queries
):
    key, plaintext = live_key
    job = job_submit(key=key, prompt="hi").job
    job_run(job_id=job.job_id)
    client = client_for(plaintext)
    first = client.get(status_url(job.job_id))  # reads the job, stores its read model
    assert first.json()["status"] == "succeeded"
    with django_assert_num_queries(0 if keycache.enabled() else 1):
        again = client.get(status_url(job.job_id))
    assert again.json() == first.json()
    # Another key of the same organization still cannot see it.
    _, other = make_key(key.organization)
    assert client_for(other).get(status_url(job.job_id)).status_code == 404


class _ViewThatNamesNoPermission(APIView):
    """A new API view whose author forgot ``required_permission``."""

    def get(self, request):
        return Response({"ok": True})


class _ViewOpenToAnyKey(APIView):
    required_permission = ANY_KEY

    def get(self, request):
        return Response({"key": request.auth.key_id})


def _call(view, plaintext: str | None, remote_addr="127.0.0.1"):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {plaintext}"} if plaintext else {}
    request = RequestFactory().get("/api/v1/new", REMOTE_ADDR=remote_addr, **headers)
    return view.as_view()(request)


def test_a_new_view_gets_the_whole_pipeline_by_default(org, make_key):
    key, plaintext = make_key(org, ip_allowlist=["10.0.0.0/8"])
    missing = _call(_ViewOpenToAnyKey, None)
    assert missing.status_code == 401
    assert missing.data["error"]["code"] == "missing_api_key"
    assert missing["WWW-Authenticate"].startswith("Bearer")
    outside = _call(_ViewOpenToAnyKey, plaintext)
    assert outside.status_code == 403
    assert outside.data["error"]["code"] == "ip_not_allowed"
    inside = _call(_ViewOpenToAnyKey, plaintext, remote_addr="10.1.2.3")
    assert inside.status_code == 200
    assert inside.data == {"key": key.key_id}


def test_a_view_that_names_no_permission_is_closed(live_key):
    _, plaintext = live_key
    response = _call(_ViewThatNamesNoPermission, plaintext)
    response.render()
    assert response.status_code == 403
    assert response.data["error"]["code"] == "insufficient_permissions"


def test_a_view_counts_requests_against_the_rate_limit_by_default(org, make_key, monkeypatch):
    _, plaintext = make_key(org, rate_limit_per_minute=1)
    monkeypatch.setattr(ratelimit, "time", SimpleNamespace(time=lambda: MINUTE_START))
    assert _call(_ViewOpenToAnyKey, plaintext).status_code == 200
    refused = _call(_ViewOpenToAnyKey, plaintext)
    assert refused.status_code == 429
    assert refused.data["error"]["code"] == "rate_limited"
