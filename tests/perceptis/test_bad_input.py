"""Bad input of every shape gets a 4xx with a stable code, never a 500, and writes nothing."""

import json

import pytest
from django.conf import settings as django_settings
from rest_framework.test import APIClient

from apikeys.keys.models import Permission
from billing.models import LedgerEntry
from jobs.models import Job
from tests.helpers import bearer

GENERATE = "/api/v1/generate"


@pytest.fixture
def send(live_key):
    """Return ``send(body: bytes, **headers)``: POST raw bytes as JSON with the live key."""
    _, plaintext = live_key
    client = APIClient(raise_request_exception=False)

    def post(body: bytes, content_type="application/json", **extra):
        extra.setdefault("HTTP_AUTHORIZATION", bearer(plaintext))
        jobs, entries = Job.objects.count(), LedgerEntry.objects.count()
        response = client.generic("POST", GENERATE, body, content_type=content_type, **extra)
        assert response.status_code < 500, response.content
        assert Job.objects.count() == jobs
        assert LedgerEntry.objects.count() == entries
        return response

    return post


def code_of(response) -> str:
    body = response.json()
    assert body["error"]["request_id"] == response["X-Request-ID"]
    return body["error"]["code"]


def assert_invalid(response) -> None:
    assert response.status_code == 400, response.content
    assert code_of(response) == "invalid_request"
    assert response.json()["error"]["fields"]


def test_body_larger_than_the_upload_limit_is_refused(send):
    size = django_settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    body = json.dumps({"prompt": "a" * (size + 10)}).encode()
    assert_invalid(send(body))


def test_json_nested_100000_deep_is_refused(send):
    depth = 100_000
    body = b'{"prompt": "hi", "options": {"a": ' + b"[" * depth + b"]" * depth + b"}}"
    assert_invalid(send(body))


def test_moderately_nested_options_are_refused_past_the_depth_limit(send):
    nested = "x"
    for _ in range(40):
        nested = {"a": nested}
    assert_invalid(send(json.dumps({"prompt": "hi", "options": nested}).encode()))


def test_invalid_utf8_is_refused(send):
    assert_invalid(send(b'{"prompt": "caf\xe9 \xff\xfe"}'))


@pytest.mark.parametrize(
    "body",
    [
        b'{"prompt": "a\\u0000b"}',
        b'{"prompt": "hi", "options": {"k": "a\\u0000b"}}',
        b'{"prompt": "hi", "options": {"a\\u0000b": 1}}',
        b'{"prompt": "hi", "options": {"list": ["ok", "\\u0000"]}}',
    ],
    ids=["prompt", "option-value", "option-key", "nested-list"],
)
def test_nul_characters_are_refused(send, body):
    # PostgreSQL text and jsonb reject NUL: these must be 400 there too, not a 500 on insert.
    assert_invalid(send(body))


@pytest.mark.parametrize(
    "body",
    [b'{"prompt": "\\ud800"}', b'{"prompt": "hi", "options": {"x": "a\\udfffb"}}'],
    ids=["prompt", "options"],
)
def test_lone_surrogates_are_refused(send, body):
    assert_invalid(send(body))


@pytest.mark.parametrize("body", [b"[]", b'[{"prompt": "hi"}]', b"42", b"null", b'"hi"', b"true"])
def test_json_that_is_not_an_object_is_refused(send, body):
    assert_invalid(send(body))


@pytest.mark.parametrize(
    "body",
    [b'{"prompt": NaN}', b'{"prompt": "hi", "options": {"t": Infinity}}', b"-Infinity"],
)
def test_nan_and_infinity_are_refused(send, body):
    assert_invalid(send(body))


@pytest.mark.parametrize("prompt", [42, 1.5, ["hi"], {"text": "hi"}, True, None])
def test_prompt_of_the_wrong_type_is_refused(send, prompt):
    response = send(json.dumps({"prompt": prompt}).encode())
    assert_invalid(response)
    assert "prompt" in response.json()["error"]["fields"]


@pytest.mark.parametrize("prompt", ["", " ", "\n\t  "])
def test_empty_prompt_is_refused(send, prompt):
    response = send(json.dumps({"prompt": prompt}).encode())
    assert_invalid(response)
    assert "prompt" in response.json()["error"]["fields"]


def test_too_long_prompt_is_refused(send, settings):
    response = send(json.dumps({"prompt": "a" * (settings.JOBS_MAX_PROMPT_CHARS + 1)}).encode())
    assert_invalid(response)
    assert "prompt" in response.json()["error"]["fields"]


def test_unknown_top_level_fields_are_refused(send):
    response = send(json.dumps({"prompt": "hi", "promt": "typo"}).encode())
    assert_invalid(response)
    assert "promt" in response.json()["error"]["fields"]


@pytest.mark.parametrize("options", ["fast", 3, ["a"], True])
def test_options_that_are_not_an_object_are_refused(send, options):
    response = send(json.dumps({"prompt": "hi", "options": options}).encode())
    assert_invalid(response)
    assert "options" in response.json()["error"]["fields"]


def test_oversized_options_are_refused(send):
    response = send(json.dumps({"prompt": "hi", "options": {"x": "a" * 20_000}}).encode())
    assert_invalid(response)


@pytest.mark.parametrize(
    "idempotency_key",
    ["k" * 256, "has spaces in it", "ключ", "tab\there", "", "trailing-newline\n"],
    ids=["too-long", "spaces", "non-ascii", "control", "empty", "newline"],
)
def test_bad_idempotency_keys_are_refused(send, idempotency_key):
    response = send(b'{"prompt": "hi"}', HTTP_IDEMPOTENCY_KEY=idempotency_key)
    assert_invalid(response)


@pytest.mark.parametrize(
    "header",
    [
        "Bearer ключ-ключ",
        "Bearer sk-live-per-" + "é" * 49,
        "Bearer " + "x" * 20_000,
        "Bearer",
        "Bearer    ",
        "Bearer sk-live-per-\x00",
        "Bearer\tsk-live-per-abc",
    ],
    ids=["non-ascii", "non-ascii-right-length", "long-garbage", "bare", "spaces", "nul", "tab"],
)
def test_garbage_authorization_headers_get_401(send, header):
    response = send(b'{"prompt": "hi"}', HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    assert code_of(response) in ("invalid_api_key", "missing_api_key")
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "user_agent", ["agent\x00nul", "agent\x07bell", "a" * 5000, "ünïcödé agent"]
)
def test_odd_user_agents_are_recorded_without_error(client_for, live_key, user_agent):
    key, plaintext = live_key
    client = client_for(plaintext)
    client.raise_request_exception = False
    response = client.get("/api/v1/status/job_unknown", HTTP_USER_AGENT=user_agent)
    assert response.status_code == 404
    key.refresh_from_db()
    assert key.last_used_at is not None
    assert "\x00" not in key.last_used_user_agent
    assert len(key.last_used_user_agent) <= 255


@pytest.mark.parametrize(
    "job_id",
    [
        "job_" + "a" * 5000,
        "job_%00abc",
        "%00",
        "job_%FF%FE",
        "job_%E2%82%AC",
        "job_'; DROP TABLE jobs_job; --",
        "job_a%20b",
        "..",
    ],
    ids=["long", "nul", "only-nul", "bad-utf8", "euro", "sql", "space", "dots"],
)
def test_odd_job_ids_get_404_job_not_found(client_for, live_key, job_id):
    client = client_for(live_key[1])
    client.raise_request_exception = False
    response = client.get(f"/api/v1/status/{job_id}")
    assert response.status_code == 404, response.content
    assert code_of(response) in ("job_not_found", "not_found")


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/keys?stauts=active",
        "/api/v1/jobs?=null",
        "/api/v1/webhooks?limt=5",
        "/api/v1/usage?projet=prj_x",
        "/api/v1/usage/costs?start=2026-01-01T00:00:00Z&end=2026-01-02T00:00:00Z&bukcet=day",
    ],
)
def test_an_unknown_query_parameter_is_refused_with_its_name(make_org, make_key, path):
    _, plaintext = make_key(make_org(), permissions=[p.value for p in Permission])
    client = APIClient(HTTP_AUTHORIZATION=bearer(plaintext))

    response = client.get(path)

    assert_invalid(response)
    unknown = path.split("&")[-1].split("?")[-1].split("=")[0]
    assert response.json()["error"]["fields"] == {unknown: ["Unknown query parameter."]}


def test_a_key_pasted_as_a_query_parameter_is_not_echoed_in_the_refusal(make_org, make_key):
    _, plaintext = make_key(make_org(), permissions=[p.value for p in Permission])
    client = APIClient(HTTP_AUTHORIZATION=bearer(plaintext))

    response = client.get(f"/api/v1/keys?{plaintext}=1")

    assert_invalid(response)
    assert plaintext not in response.content.decode()
    assert plaintext[12:40] not in response.content.decode()
