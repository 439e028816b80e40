"""What the schema declares on every operation: errors, headers, tags, links, strict bodies.

Each of these comes from one place (``perceptis.openapi``) and the code's own classes, so these
tests check the whole schema rather than one endpoint at a time.
"""

import inspect
import re
import sys

import pytest
from django.core.management import call_command
from drf_spectacular.generators import SchemaGenerator

from jobs.services.submission import clean_idempotency_key
from perceptis.errors import DomainError, InvalidRequest
from tests.helpers import openapi_error_codes

METHODS = ("get", "post", "put", "patch", "delete")
PIPELINE = {
    401: {
        "missing_api_key",
        "invalid_api_key",
        "api_key_revoked",
        "api_key_inactive",
        "api_key_expired",
        "environment_mismatch",
    },
    403: {"ip_not_allowed", "plan_not_eligible", "insufficient_permissions"},
    429: {"rate_limited", "daily_quota_exceeded", "too_many_failed_attempts"},
    400: {"invalid_request"},
    503: {"service_unavailable"},
}
RATE_LIMIT = {"RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"}
TAGS = ["Jobs", "Keys", "Usage", "Projects", "Models", "Webhooks", "Exposed keys"]


@pytest.fixture
def schema(client, db):
    response = client.get("/api/v1/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    return response.json()


def operations(schema):
    for path, item in schema["paths"].items():
        for method in METHODS:
            if method in item:
                yield path, method, item[method]


def component(schema, ref_or_schema):
    if ref_or_schema.get("type") == "array":  # a list body: its items' component
        ref_or_schema = ref_or_schema["items"]
    if "allOf" in ref_or_schema:
        ref_or_schema = ref_or_schema["allOf"][0]
    name = ref_or_schema["$ref"].rsplit("/", 1)[-1]
    return schema["components"]["schemas"][name]


def _error_classes():
    found, todo = set(), [DomainError]
    while todo:
        for sub in todo.pop().__subclasses__():
            found.add(sub)
            todo.append(sub)
    return found


# The operations that take no API key, and say so with an empty ``security``.
PUBLIC = {
    ("/api/v1/secret-scanning/github", "post"),
    ("/api/v1/keys/revoke-exposed", "post"),
}


def test_only_the_public_operations_opt_out_of_authentication(schema):
    public = {(path, method) for path, method, op in operations(schema) if op["security"] == []}
    assert public == PUBLIC
    for path, method, operation in operations(schema):
        if (path, method) in PUBLIC:
            declared = {
                code
                for status in ("401", "403")
                if status in operation["responses"]
                for code in openapi_error_codes(operation, int(status))
            }
            assert not declared & (PIPELINE[401] | PIPELINE[403]), (path, method)
            assert not any(
                "RateLimit-Limit" in response.get("headers", {})
                for response in operation["responses"].values()
            )


def test_every_authenticated_operation_declares_the_pipeline_refusals(schema):
    for path, method, operation in operations(schema):
        if (path, method) in PUBLIC:
            continue
        assert operation["security"], (path, method)
        for status, codes in PIPELINE.items():
            assert codes <= openapi_error_codes(operation, status), (path, method, status)


def test_error_codes_are_exactly_those_of_the_error_classes(schema):
    classes = {(int(cls.status_code), cls.code) for cls in _error_classes()}
    for path, method, operation in operations(schema):
        for status, response in operation["responses"].items():
            if int(status) < 400:
                continue
            for code in openapi_error_codes(operation, int(status)):
                assert (int(status), code) in classes, (path, method, status, code)


def test_operation_specific_codes_are_declared_where_they_can_happen(schema):
    paths = schema["paths"]
    generate = paths["/api/v1/generate"]["post"]
    assert openapi_error_codes(generate, 402) == {
        "spend_limit_reached",
        "project_spend_limit_reached",
        "org_spend_limit_reached",
        "insufficient_credits",
    }
    assert "too_many_jobs_in_flight" in openapi_error_codes(generate, 429)
    assert openapi_error_codes(generate, 422) == {"idempotency_key_reused"}
    assert {"unsupported_media_type"} == openapi_error_codes(generate, 415)
    assert openapi_error_codes(paths["/api/v1/status/{job_id}"]["get"], 404) == {
        "job_not_found",
        "not_found",
    }
    create = paths["/api/v1/keys"]["post"]
    assert {"exceeds_own_privileges", "key_limit_reached"} <= openapi_error_codes(create, 403)
    assert "key_creation_limit_reached" in openapi_error_codes(create, 429)
    assert openapi_error_codes(paths["/api/v1/keys/{key_id}"]["delete"], 409) == {"key_not_revoked"}
    cancel = paths["/api/v1/jobs/{job_id}/cancel"]["post"]
    assert openapi_error_codes(cancel, 409) == {"job_not_cancelable"}
    assert openapi_error_codes(cancel, 404) == {"job_not_found", "not_found"}
    assert "requestBody" not in cancel and "415" not in cancel["responses"]
    webhooks = paths["/api/v1/webhooks"]
    assert "webhook_limit_reached" in openapi_error_codes(webhooks["post"], 403)
    assert "404" not in webhooks["get"]["responses"]
    for method, operation in paths["/api/v1/webhooks/{endpoint_id}"].items():
        if method in METHODS:
            assert openapi_error_codes(operation, 404) == {"webhook_not_found", "not_found"}
    # A read refuses nothing of its own: no 402, 409 or 415 on it.
    for status in ("402", "409", "415", "422"):
        assert status not in paths["/api/v1/models"]["get"]["responses"]
        assert status not in paths["/api/v1/keys"]["get"]["responses"]
        assert status not in paths["/api/v1/jobs"]["get"]["responses"]


def test_every_response_declares_its_headers(schema):
    for path, method, operation in operations(schema):
        for status, response in operation["responses"].items():
            headers = response["headers"]
            assert headers["X-Request-ID"]["required"] is True, (path, method, status)
            if (path, method) in PUBLIC:  # no key: no key's rate limit, no Bearer challenge
                assert not (RATE_LIMIT | {"WWW-Authenticate"}) & set(headers)
            elif status == "401":
                assert not RATE_LIMIT & set(headers)
                assert headers["WWW-Authenticate"]["required"] is True
            else:
                assert set(headers) >= RATE_LIMIT, (path, method, status)
            if (path, method) not in PUBLIC and (
                status.startswith("2") or status in ("402", "403", "409", "422")
            ):
                assert all(headers[name]["required"] for name in RATE_LIMIT), (path, status)
            if status in ("429", "503"):
                assert headers["Retry-After"]["required"] is True
                assert headers["Retry-After"]["schema"]["type"] == "integer"


def test_generate_declares_location_replay_and_the_idempotency_key_rule(schema):
    generate = schema["paths"]["/api/v1/generate"]["post"]
    headers = generate["responses"]["202"]["headers"]
    assert headers["Location"]["required"] is True
    assert headers["Idempotent-Replayed"]["schema"]["enum"] == ["true"]
    assert not headers["Idempotent-Replayed"].get("required")
    (parameter,) = [p for p in generate["parameters"] if p["name"] == "Idempotency-Key"]
    declared = parameter["schema"]
    assert parameter["in"] == "header" and not parameter.get("required")
    assert (declared["minLength"], declared["maxLength"]) == (1, 255)
    pattern = re.compile(declared["pattern"])
    # The schema's pattern and the server agree on either side of each edge.
    for value in ["a", "x" * 255, "!~", "key-1:2"]:
        assert pattern.search(value) and clean_idempotency_key(value) == value
    for value in ["", "x" * 256, "a b", "é", "a\t"]:
        assert not (pattern.search(value) and len(value) <= 255)
        with pytest.raises(InvalidRequest):
            clean_idempotency_key(value)


def test_operations_are_tagged_as_the_readme_sections(schema):
    assert [tag["name"] for tag in schema["tags"]] == TAGS
    tags = {}
    for path, method, operation in operations(schema):
        (tag,) = operation["tags"]
        assert tag in TAGS, (path, method, tag)
        tags.setdefault(tag, set()).add(path)
    assert tags["Jobs"] == {
        "/api/v1/generate",
        "/api/v1/status/{job_id}",
        "/api/v1/jobs",
        "/api/v1/jobs/{job_id}/cancel",
    }
    assert tags["Models"] == {"/api/v1/models"}
    assert tags["Usage"] == {"/api/v1/usage", "/api/v1/usage/costs"}
    assert tags["Projects"] == {"/api/v1/projects"}
    assert all(path.startswith("/api/v1/keys") for path in tags["Keys"])
    assert tags["Webhooks"] == {
        "/api/v1/webhooks",
        "/api/v1/webhooks/{endpoint_id}",
        "/api/v1/webhooks/{endpoint_id}/rotate-secret",
        "/api/v1/webhooks/{endpoint_id}/deliveries",
    }


def test_request_bodies_that_refuse_unknown_fields_say_so(schema):
    for path, method, operation in operations(schema):
        body = operation.get("requestBody")
        # GitHub's report is GitHub's format, which may grow fields: they are ignored.
        if body and path != "/api/v1/secret-scanning/github":
            declared = component(schema, body["content"]["application/json"]["schema"])
            assert declared["additionalProperties"] is False, (path, method)


def test_job_result_and_usage_are_typed(schema):
    job = schema["components"]["schemas"]["Job"]
    result = job["properties"]["result"]
    assert result["nullable"] is True
    fields = component(schema, result)
    assert set(fields["required"]) == {"text", "model", "usage"}
    assert fields["properties"]["text"]["type"] == "string"
    assert fields["properties"]["watermark"]["type"] == "boolean"
    assert fields["properties"]["finish_reason"]["nullable"] is True
    usage = job["properties"]["usage"]
    assert usage["nullable"] is True
    tokens = component(schema, usage)
    assert tokens["properties"] == {
        "input_tokens": {"type": "integer"},
        "output_tokens": {"type": "integer"},
    }
    for name in ("started_at", "finished_at", "error"):
        assert job["properties"][name]["nullable"] is True
    for name in ("job_id", "status", "created_at", "model", "credits_charged", "test"):
        assert not job["properties"][name].get("nullable"), name


def test_links_lead_from_created_things_to_what_acts_on_them(schema):
    generate = schema["paths"]["/api/v1/generate"]["post"]["responses"]["202"]["links"]
    assert generate["job_status"] == {
        "operationId": "job_status",
        "parameters": {"job_id": "$response.body#/job_id"},
        "description": "Use this response in `job_status`.",
    }
    assert generate["jobs_cancel"]["parameters"] == {"job_id": "$response.body#/job_id"}
    created = schema["paths"]["/api/v1/keys"]["post"]["responses"]["201"]["links"]
    assert {"keys_retrieve", "keys_revoke", "keys_delete", "keys_rotate"} <= set(created)
    assert created["keys_revoke"]["parameters"] == {"key_id": "$response.body#/id"}
    hooks = schema["paths"]["/api/v1/webhooks"]["post"]["responses"]["201"]["links"]
    assert set(hooks) == {
        "webhooks_retrieve",
        "webhooks_update",
        "webhooks_delete",
        "webhooks_rotate_secret",
        "webhooks_deliveries",
    }
    assert hooks["webhooks_delete"]["parameters"] == {"endpoint_id": "$response.body#/id"}
    operation_ids = {operation["operationId"] for _, _, operation in operations(schema)}
    for _, _, operation in operations(schema):
        for response in operation["responses"].values():
            for link in response.get("links", {}).values():
                assert link["operationId"] in operation_ids


def _descriptions(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("description", "summary") and isinstance(value, str):
                yield value
            else:
                yield from _descriptions(value)
    elif isinstance(node, list):
        for value in node:
            yield from _descriptions(value)


PROJECT = ("jobs", "apikeys", "billing", "perceptis", "accounts")


def _docstrings():
    """Return the first sentence of every docstring of the project's modules and classes
    (views, serializers, fields, errors): text written for developers."""
    SchemaGenerator()._initialise_endpoints()  # imports every API module
    docs = set()
    for name, module in list(sys.modules.items()):
        if name.split(".")[0] not in PROJECT:
            continue
        docs.add(inspect.getdoc(module) or "")
        for _, member in inspect.getmembers(module, inspect.isclass):
            if member.__module__ == name:
                docs.add(inspect.getdoc(member) or "")
                for _, function in inspect.getmembers(member, inspect.isfunction):
                    docs.add(inspect.getdoc(function) or "")
    firsts = {doc.split("\n\n")[0].split(". ")[0] for doc in docs}
    return {first for first in firsts if len(first) > 30}


def test_no_description_repeats_an_internal_docstring(schema, db):
    texts = list(_descriptions(schema))
    assert texts
    docstrings = _docstrings()
    assert docstrings
    for doc in docstrings:
        leaks = [text for text in texts if doc in text]
        assert not leaks, (doc, leaks)
    for path, method, operation in operations(schema):
        assert operation["summary"] and operation["description"], (path, method)


def test_the_schema_is_served_with_and_without_the_trailing_slash(client, db):
    with_slash = client.get("/api/v1/schema/", HTTP_ACCEPT="application/json")
    without = client.get("/api/v1/schema", HTTP_ACCEPT="application/json")
    assert without.status_code == 200 and "Location" not in without
    assert without.json() == with_slash.json()


def test_the_schema_is_valid_openapi_and_builds_without_warnings(tmp_path, db):
    # --fail-on-warn: a link to a missing operation or an undescribed parameter fails here.
    call_command(
        "spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml")
    )
