"""Property test: no request of any shape under /api/v1/ gets a 500 or a non-JSON answer."""

import json
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from tests.helpers import bearer

ENDPOINTS = [
    "generate",
    "status/job_x",
    "jobs",
    "jobs/job_x/cancel",
    "keys",
    "keys/key_x",
    "keys/key_x/revoke",
    "keys/key_x/rotate",
    "usage",
    "nope",
    "generate/",
]
METHODS = ["GET", "POST", "PATCH", "PUT", "DELETE", "OPTIONS"]

# JSON values, numbers written out as text so that overflowing ones (1e400) occur as well.
_json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
)
_json_values = st.recursive(
    _json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)
_bodies = st.one_of(
    st.binary(max_size=200),
    _json_values.map(lambda v: json.dumps(v).encode()),
    st.builds(
        lambda prompt, options: json.dumps({"prompt": prompt, "options": options}).encode(),
        st.text(max_size=30),
        _json_values,
    ),
    st.sampled_from(
        [b'{"prompt": "x", "options": {"t": 1e400}}', b'{"prompt": "x", "t": -1e999}', b"[1e309]"]
    ),
)
_segments = st.text(max_size=12).map(lambda s: quote(s, safe=""))
_queries = st.dictionaries(
    st.sampled_from(
        ["cursor", "limit", "status", "type", "environment", "created_after", "created_before", "x"]
    ),
    st.text(max_size=12),
    max_size=3,
)


@pytest.fixture
def client(org, make_key):
    _, plaintext = make_key(
        org, permissions=["jobs:write", "jobs:read", "keys:manage", "usage:read"]
    )
    api = APIClient(raise_request_exception=False)
    api.credentials(HTTP_AUTHORIZATION=bearer(plaintext))
    return api


@settings(
    max_examples=150,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    method=st.sampled_from(METHODS),
    endpoint=st.sampled_from(ENDPOINTS)
    | _segments.map(lambda s: f"keys/{s}")
    | _segments.map(lambda s: f"jobs/{s}/cancel"),
    query=_queries,
    body=_bodies,
    content_type=st.sampled_from(
        ["application/json", "application/json; charset=utf-8", "text/plain", ""]
    ),
)
def test_no_request_gets_a_500_or_html(client, method, endpoint, query, body, content_type):
    path = "/api/v1/" + endpoint
    if query:
        path += "?" + "&".join(f"{k}={quote(v, safe='')}" for k, v in query.items())
    response = client.generic(method, path, body, content_type=content_type)
    assert response.status_code < 500, (method, path, body, response.content[:300])
    if response.status_code >= 400:
        assert response["Content-Type"].startswith("application/json"), response.content[:200]
        assert response.json()["error"]["code"]
