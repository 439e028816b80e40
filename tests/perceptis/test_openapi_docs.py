"""The OpenAPI schema and the docs page: public, complete, and served without a CDN."""

from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest

JOB_FIELDS = {
    "job_id",
    "status",
    "created_at",
    "started_at",
    "finished_at",
    "result",
    "error",
    "model",
    "usage",
    "credits_reserved",
    "credits_charged",
    "test",
}


@pytest.fixture
def schema(client):
    response = client.get("/api/v1/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    return response.json()


def _resolve(schema: dict, ref_or_schema: dict) -> dict:
    if "allOf" in ref_or_schema:  # drf-spectacular wraps read-only references
        ref_or_schema = ref_or_schema["allOf"][0]
    ref = ref_or_schema.get("$ref")
    if ref is None:
        return ref_or_schema
    return schema["components"]["schemas"][ref.rsplit("/", 1)[-1]]


def _response_schema(schema: dict, operation: dict, status: str) -> dict:
    return _resolve(schema, operation["responses"][status]["content"]["application/json"]["schema"])


def test_schema_is_public(client, db):
    response = client.get("/api/v1/schema/")
    assert response.status_code == 200
    assert b"openapi" in response.content


def test_docs_page_is_public(client, db):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")


def test_schema_describes_generate_and_status(schema):
    paths = schema["paths"]
    assert "post" in paths["/api/v1/generate"]
    assert "get" in paths["/api/v1/status/{job_id}"]
    for path in paths:
        assert not path.endswith("/") or path.endswith("schema/"), path


def test_job_shape_has_the_designed_fields(schema):
    status = schema["paths"]["/api/v1/status/{job_id}"]["get"]
    job = _response_schema(schema, status, "200")
    assert set(job["properties"]) >= JOB_FIELDS
    status_enum = _resolve(schema, job["properties"]["status"])
    assert set(status_enum["enum"]) >= {"queued", "running", "succeeded", "failed", "canceled"}
    generate = schema["paths"]["/api/v1/generate"]["post"]
    submitted = _response_schema(schema, generate, "202")
    assert set(submitted["properties"]) >= JOB_FIELDS


def test_generate_request_needs_only_a_prompt(schema):
    generate = schema["paths"]["/api/v1/generate"]["post"]
    body = _resolve(schema, generate["requestBody"]["content"]["application/json"]["schema"])
    assert body["required"] == ["prompt"]
    assert {"prompt", "options"} == set(body["properties"])


def test_errors_are_documented_with_the_error_shape(schema):
    status = schema["paths"]["/api/v1/status/{job_id}"]["get"]
    not_found = status["responses"]["404"]
    assert "job_not_found" in not_found["description"]
    error = _response_schema(schema, status, "404")
    detail = _resolve(schema, error["properties"]["error"])
    assert {"code", "message", "request_id"} <= set(detail["properties"])
    generate = schema["paths"]["/api/v1/generate"]["post"]
    assert {"400", "401", "402", "403", "415", "429"} <= set(generate["responses"])


def test_schema_has_a_bearer_security_scheme_used_by_the_endpoints(schema):
    schemes = schema["components"]["securitySchemes"]
    bearer = [name for name, s in schemes.items() if s == {**s, "type": "http", "scheme": "bearer"}]
    assert bearer
    for path in ("/api/v1/generate", "/api/v1/status/{job_id}"):
        for operation in schema["paths"][path].values():
            assert {bearer[0]: []} in operation["security"]


class _References(HTMLParser):
    def __init__(self):
        super().__init__()
        self.urls = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("src", "href") and value:
                self.urls.append(value)


def _docs_references(client) -> list[str]:
    html = client.get("/api/docs/").content.decode()
    parser = _References()
    parser.feed(html)
    assert parser.urls, "the docs page should load its assets"
    return parser.urls


def test_docs_page_references_no_external_host(client, db):
    html = client.get("/api/docs/").content.decode()
    assert "http://" not in html and "https://" not in html
    for url in _docs_references(client):
        parts = urlsplit(url)
        assert not parts.scheme and not parts.netloc, url


def test_docs_page_assets_are_served(client, db):
    urls = [u for u in _docs_references(client) if u.startswith("/")]
    assert any(u.endswith(".js") for u in urls)
    assert any(u.endswith(".css") for u in urls)
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        body = b"".join(response.streaming_content) if response.streaming else response.content
        assert body, url


def test_schema_documents_models_and_the_money_refusals(schema):
    assert "/api/v1/models" in schema["paths"]
    generate = schema["paths"]["/api/v1/generate"]["post"]["responses"]
    assert "model_not_available" in generate["400"]["description"]
    assert "too_many_jobs_in_flight" in generate["429"]["description"]
    for code in ("spend_limit_reached", "org_spend_limit_reached", "insufficient_credits"):
        assert code in generate["402"]["description"]
    key = _resolve(schema, {"$ref": "#/components/schemas/Key"})
    assert {"spend_limit_credits", "spend_limit_period"} <= set(key["properties"])
