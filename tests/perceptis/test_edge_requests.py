"""The requests of the production-edge report, sent again: each gets a 4xx JSON error, or a 503
when the database is unreachable, never a 500 or an HTML page."""

import contextlib
from unittest import mock

import pytest
from django.db import OperationalError
from django.db.backends.utils import CursorWrapper
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import Membership, User
from tests.helpers import bearer


@pytest.fixture
def manager(org, make_key):
    """An API client with a key that holds every permission."""
    _, plaintext = make_key(
        org, permissions=["jobs:write", "jobs:read", "keys:manage", "usage:read"]
    )
    client = APIClient(raise_request_exception=False)
    client.credentials(HTTP_AUTHORIZATION=bearer(plaintext))
    return client


def assert_json_error(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json"), response.content[:300]
    error = response.json()["error"]
    assert error["request_id"] == response["X-Request-ID"]
    if code is not None:
        assert error["code"] == code
    return error


def test_an_overflowing_float_is_invalid_request(manager):
    response = manager.generic(
        "POST",
        "/api/v1/generate",
        b'{"prompt": "x", "options": {"t": 1e400}}',
        content_type="application/json",
    )
    assert_json_error(response, 400, "invalid_request")


def test_an_overflowing_negative_float_in_a_list_is_invalid_request(manager):
    response = manager.generic(
        "POST",
        "/api/v1/generate",
        b'{"prompt": "x", "options": {"t": [1, -2.5e999]}}',
        content_type="application/json",
    )
    assert_json_error(response, 400, "invalid_request")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/keys/%00"),
        ("POST", "/api/v1/keys/%00/revoke"),
        ("PATCH", "/api/v1/keys/key_%00abc"),
        ("DELETE", "/api/v1/keys/%0a"),
        ("GET", "/api/v1/status/job_%1b"),
    ],
)
def test_control_characters_in_an_api_path_get_404(manager, method, path):
    response = manager.generic(method, path, b"{}", content_type="application/json")
    assert_json_error(response, 404)


@pytest.mark.parametrize("query", ["cursor=%00", "status=active%00", "limit=1%0a", "%00=1"])
def test_control_characters_in_an_api_query_get_400(manager, query):
    response = manager.get(f"/api/v1/keys?{query}")
    assert_json_error(response, 400, "invalid_request")


def _signed_in(user) -> Client:
    client = Client(raise_request_exception=False)
    client.force_login(user)
    return client


def test_control_characters_in_a_page_path_get_404(org, make_user):
    web = _signed_in(make_user(org, role=Membership.Role.OWNER))
    response = web.get("/settings/developer/keys/%00/")
    assert response.status_code == 404


def test_control_characters_in_an_admin_filter_get_400(db):
    root = User.objects.create_superuser("root-edge@example.com", "correct-horse-battery-staple")
    admin = _signed_in(root)
    for url in ("/admin/apikeys/apikey/?org=%00", "/admin/accounts/organization/?q=%00"):
        assert admin.get(url).status_code == 400, url


@pytest.mark.parametrize("host", ["evil.example.com", "bad\x00host", "a b", "[::1"])
def test_a_bad_host_under_the_api_gets_the_json_error_body(manager, host):
    response = manager.post("/api/v1/generate", {"prompt": "x"}, format="json", HTTP_HOST=host)
    assert_json_error(response, 400, "invalid_request")


def test_a_bad_host_on_a_page_is_still_a_400(db):
    response = Client(raise_request_exception=False).get("/accounts/login/", HTTP_HOST="evil.com")
    assert response.status_code == 400


@pytest.mark.parametrize("method", ["POST", "PATCH", "PUT", "DELETE"])
@pytest.mark.parametrize("path", ["/api/v1/generate/", "/api/v1/nope", "/api/v1/keys/x/y/z"])
def test_writes_to_unknown_paths_get_the_json_404(manager, method, path):
    client = APIClient(enforce_csrf_checks=True, raise_request_exception=False)
    client.credentials(**manager._credentials)
    response = client.generic(method, path, b"{}", content_type="application/json")
    assert_json_error(response, 404, "not_found")


def test_a_chunked_body_is_refused_with_411(manager):
    response = manager.generic(
        "POST",
        "/api/v1/generate",
        b"",
        content_type="application/json",
        HTTP_TRANSFER_ENCODING="chunked",
        CONTENT_LENGTH="",
    )
    assert_json_error(response, 411, "length_required")


@contextlib.contextmanager
def database_down():
    """Make every query fail as a dropped connection does, for the length of the block."""

    def fail(self, sql, params=None):
        raise OperationalError("server closed the connection unexpectedly")

    with mock.patch.object(CursorWrapper, "execute", fail):
        yield


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/api/v1/status/job_x"), ("GET", "/api/v1/keys"), ("POST", "/api/v1/generate")],
)
def test_a_lost_database_connection_is_503_service_unavailable(manager, method, path):
    with database_down():
        response = manager.generic(
            method, path, b'{"prompt": "x"}', content_type="application/json"
        )
    assert_json_error(response, 503, "service_unavailable")
    assert int(response["Retry-After"]) > 0


def test_a_lost_database_connection_on_a_page_is_503(org, make_user):
    web = _signed_in(make_user(org, role=Membership.Role.OWNER))
    with database_down():
        response = web.get("/settings/developer/")
    assert response.status_code == 503
    assert response["Retry-After"]


def test_connection_health_checks_are_on(settings):
    assert settings.DATABASES["default"]["CONN_HEALTH_CHECKS"] is True


@pytest.mark.parametrize(
    "header",
    ["HTTP_COOKIE", "HTTP_ACCEPT", "HTTP_X_FORWARDED_FOR", "HTTP_IDEMPOTENCY_KEY", "HTTP_ORIGIN"],
)
def test_nul_bytes_in_a_header_get_a_json_answer(manager, header):
    response = manager.generic(
        "POST",
        "/api/v1/generate",
        b'{"prompt": "x"}',
        content_type="application/json",
        **{header: "a\x00b"},
    )
    assert response.status_code < 500
    assert response["Content-Type"].startswith("application/json")


def test_a_key_cut_short_in_a_path_is_not_stored_in_the_request_log(manager):
    from apikeys.keys import keyformat
    from apikeys.usage import metering
    from apikeys.usage.models import RequestLog

    short = keyformat.generate("live")[:24]
    manager.get(f"/api/v1/status/{short}")
    metering.flush()
    paths = list(RequestLog.objects.values_list("path", flat=True))
    assert paths and all(short[12:] not in path for path in paths)


def test_handler500_logs_the_path_escaped_and_redacted(rf, caplog):
    from perceptis.error_views import handler500

    request = rf.get("/api/v1/x")
    request.path = "/api/v1/x\nFAKE LOG LINE sk-live-per-abcdefghijkl"
    with caplog.at_level("ERROR", logger="perceptis.error_views"):
        response = handler500(request)
    assert response.status_code == 500
    message = caplog.records[-1].getMessage()
    assert "\n" not in message
    assert "abcdefghijkl" not in message


def test_error_bodies_never_echo_a_key(manager):
    from apikeys.keys import keyformat

    key = keyformat.generate("live")
    responses = [
        manager.get(f"/api/v1/keys?status={key}&type={key}&limit={key}"),
        manager.post(
            "/api/v1/keys", {"name": "x", "permissions": [key], "type": key}, format="json"
        ),
        manager.post("/api/v1/generate", {"prompt": "x", key: 1}, format="json"),
    ]
    for response in responses:
        assert response.status_code == 400, response.content
        assert key[12:30] not in response.content.decode()
