"""The request log: one row per API request, and never a key, body or header value in it."""

import json

from apikeys.usage import metering
from apikeys.usage.models import RequestLog

SECRET = "hunter2-do-not-log"


def _fields(row) -> str:
    return json.dumps(
        {f.name: str(getattr(row, f.attname)) for f in RequestLog._meta.concrete_fields}
    )


def test_each_request_is_logged_with_its_request_id(live_key, client_for):
    key, plaintext = live_key
    response = client_for(plaintext).post(
        "/api/v1/generate",
        {"prompt": SECRET},
        format="json",
        HTTP_USER_AGENT="acme-sdk/2.1",
        HTTP_X_CUSTOM=SECRET,
    )
    assert response.status_code == 202
    metering.flush()
    row = RequestLog.objects.get()
    assert row.request_id == response["X-Request-ID"]
    assert (row.method, row.path, row.status, row.error_code) == (
        "POST",
        "/api/v1/generate",
        202,
        "",
    )
    assert (row.api_key_id, row.organization_id) == (key.pk, key.organization_id)
    assert (row.client_ip, row.user_agent) == ("127.0.0.1", "acme-sdk/2.1")
    assert row.latency_ms >= 0
    logged = _fields(row)
    assert SECRET not in logged
    assert plaintext not in logged
    assert key.hint not in logged


def test_a_client_supplied_request_id_is_the_one_logged(live_key, client_for):
    _, plaintext = live_key
    response = client_for(plaintext).get(
        "/api/v1/status/job_nope", HTTP_X_REQUEST_ID="client-trace-0001"
    )
    assert response["X-Request-ID"] == "client-trace-0001"
    metering.flush()
    row = RequestLog.objects.get(request_id="client-trace-0001")
    assert (row.status, row.error_code) == (404, "job_not_found")


def test_unauthenticated_requests_are_logged_without_a_key(db, api):
    response = api.get("/api/v1/keys", HTTP_AUTHORIZATION="Bearer sk-live-per-nonsense")
    metering.flush()
    row = RequestLog.objects.get()
    assert (row.api_key_id, row.organization_id) == (None, None)
    assert (row.status, row.error_code) == (401, "invalid_api_key")
    assert row.request_id == response["X-Request-ID"]
    assert "nonsense" not in _fields(row)


def test_unknown_endpoints_are_logged_with_their_code(db, api):
    api.get("/api/v1/nothing/here")
    metering.flush()
    row = RequestLog.objects.get()
    assert (row.status, row.error_code) == (404, "not_found")


def test_a_key_in_the_path_is_redacted(live_key, api):
    _, plaintext = live_key
    api.get(f"/api/v1/status/{plaintext}")
    metering.flush()
    row = RequestLog.objects.get()
    assert plaintext not in row.path
    assert row.path == "/api/v1/status/sk-live-per-[redacted]"


def test_a_key_cut_short_in_the_path_is_redacted_too(live_key, api):
    _, plaintext = live_key
    api.get(f"/api/v1/status/{plaintext[:30]}")
    metering.flush()
    row = RequestLog.objects.get()
    assert plaintext[:30] not in row.path
    assert row.path == "/api/v1/status/sk-live-per-[redacted]"


def test_paths_postgres_cannot_store_are_cleaned(db, api):
    api.get("/api/v1/status/a%00b%ED%A0%80c")
    metering.flush()
    row = RequestLog.objects.get()
    assert "\x00" not in row.path
    row.path.encode("utf-8")


def test_another_organizations_request_is_not_found(web, make_org):
    other = make_org()
    entry = RequestLog.objects.create(
        organization=other, method="GET", path="/api/v1/models", status=200, latency_ms=1,
        request_id="req_theirs",
    )  # fmt: skip

    response = web.get(f"/settings/developer/requests/{entry.pk}/")

    assert response.status_code == 404


def test_a_request_page_shows_everything_logged(web, org, make_key):
    key, _ = make_key(org, name="Backend")
    entry = RequestLog.objects.create(
        organization=org, api_key=key, method="POST", path="/api/v1/generate", status=402,
        error_code="insufficient_credits", latency_ms=7, client_ip="198.51.100.2",
        user_agent="curl/8.5.0", request_id="req_" + "a" * 60,
    )  # fmt: skip

    page = web.get(f"/settings/developer/requests/{entry.pk}/").content.decode()

    for shown in ("insufficient_credits", "198.51.100.2", "curl/8.5.0", "req_" + "a" * 60, "7 ms"):
        assert shown in page
    log = web.get("/settings/developer/requests/").content.decode()
    assert f'href="/settings/developer/requests/{entry.pk}/"' in log
