"""Every refusal the server really answers is declared by its operation, headers included.

Each case sends a real request that gets one refusal (in the pipeline's order, then each
endpoint's own) and checks that the operation's schema lists that code in the ``code`` enum of
that status, that the response validates against the schema, and that the headers the schema
says are required are there.
"""

import json
from datetime import timedelta

import pytest
import schemathesis
from django.utils import timezone
from werkzeug.test import Client, EnvironBuilder, TestResponse, run_wsgi_app
from werkzeug.wrappers import Request

from accounts.models import Plan
from accounts.projects.services import project_create
from accounts.services import organization_set_plan
from apikeys.keys.models import ApiKey, Permission
from apikeys.keys.services import apikey_disable, apikey_revoke
from billing.services import credits_spend_limit_set
from tests.helpers import SYSTEM, bearer, openapi_error_codes

ALL = [p.value for p in Permission]
GENERATE = ("post", "/api/v1/generate")
STATUS = ("get", "/api/v1/status/{job_id}")
MODELS = ("get", "/api/v1/models")
KEYS = ("post", "/api/v1/keys")
KEY = "/api/v1/keys/{key_id}"


class Case:
    """What a case needs: the org, keys made on demand, settings and a WSGI client."""

    def __init__(self, make_org, make_key, settings, app):
        self.org = make_org(plan="business", credits=1000)
        self.make_org = make_org
        self.make_key = make_key
        self.settings = settings
        self.http = Client(app)

    def key(self, **fields):
        fields.setdefault("permissions", ALL)
        return self.make_key(self.org, **fields)

    def send(self, method, url, *, key=None, body=None, headers=None, **extra):
        headers = dict(headers or {})
        if key is not None:
            headers["Authorization"] = bearer(key)
        if body is not None:
            extra.setdefault("data", json.dumps(body))
            extra.setdefault("content_type", "application/json")
        return self.http.open(url, method=method.upper(), headers=headers, **extra)


def _pipeline_cases():
    def missing(c):
        return MODELS, c.send("get", "/api/v1/models")

    def invalid(c):
        return MODELS, c.send("get", "/api/v1/models", key="sk-live-per-nope")

    def revoked(c):
        key, plaintext = c.key()
        apikey_revoke(key=key, actor=SYSTEM)
        return MODELS, c.send("get", "/api/v1/models", key=plaintext)

    def inactive(c):
        key, plaintext = c.key()
        apikey_disable(key=key, actor=SYSTEM)
        return MODELS, c.send("get", "/api/v1/models", key=plaintext)

    def expired(c):
        key, plaintext = c.key(expires_at=timezone.now() + timedelta(days=1))
        ApiKey.objects.filter(pk=key.pk).update(expires_at=timezone.now() - timedelta(days=1))
        return MODELS, c.send("get", "/api/v1/models", key=plaintext)

    def other_environment(c):
        _, plaintext = c.key(environment=ApiKey.Environment.STAGING)
        return MODELS, c.send("get", "/api/v1/models", key=plaintext)

    def outside_allowlist(c):
        _, plaintext = c.key(ip_allowlist=["10.0.0.0/8"])
        return MODELS, c.send("get", "/api/v1/models", key=plaintext)

    def ineligible_plan(c):
        _, plaintext = c.key()
        organization_set_plan(organization=c.org, plan_code="free", actor=SYSTEM)
        return MODELS, c.send("get", "/api/v1/models", key=plaintext)

    def lacking_permission(c):
        _, plaintext = c.key(permissions=[Permission.JOBS_READ])
        return GENERATE, c.send("post", "/api/v1/generate", key=plaintext, body={"prompt": "x"})

    def rate_limited(c):
        _, plaintext = c.key(rate_limit_per_minute=1)
        c.send("get", "/api/v1/models", key=plaintext)
        return MODELS, c.send("get", "/api/v1/models", key=plaintext)

    def daily_quota(c):
        c.settings.APIKEYS_TEST_DAILY_QUOTA = 1
        _, plaintext = c.key(type=ApiKey.Type.TEST)
        c.send("get", "/api/v1/models", key=plaintext)
        return MODELS, c.send("get", "/api/v1/models", key=plaintext)

    def failed_attempts(c):
        c.settings.APIKEYS_FAILED_AUTH_PER_MINUTE = 1
        for _ in range(2):
            c.send("get", "/api/v1/models", key="sk-live-per-nope")
        # A valid key passes a throttled address; a malformed one is refused before any lookup.
        return MODELS, c.send("get", "/api/v1/models", key="sk-live-per-nope")

    def not_acceptable(c):
        _, plaintext = c.key()
        return MODELS, c.send(
            "get", "/api/v1/models", key=plaintext, headers={"Accept": "text/html"}
        )

    def bad_query(c):
        _, plaintext = c.key()
        return ("get", "/api/v1/keys"), c.send("get", "/api/v1/keys?limit=0", key=plaintext)

    return {
        "missing_api_key": missing,
        "invalid_api_key": invalid,
        "api_key_revoked": revoked,
        "api_key_inactive": inactive,
        "api_key_expired": expired,
        "environment_mismatch": other_environment,
        "ip_not_allowed": outside_allowlist,
        "plan_not_eligible": ineligible_plan,
        "insufficient_permissions": lacking_permission,
        "rate_limited": rate_limited,
        "daily_quota_exceeded": daily_quota,
        "too_many_failed_attempts": failed_attempts,
        "not_acceptable": not_acceptable,
        "invalid_request": bad_query,
    }


def _job_cases():
    def generate(c, body=None, plaintext=None, **extra):
        plaintext = plaintext or c.key()[1]
        return GENERATE, c.send("post", "/api/v1/generate", key=plaintext, body=body, **extra)

    def bad_body(c):
        return generate(c, {"prompt": "x", "unknown": 1})

    def wrong_media_type(c):
        return generate(c, data="prompt", content_type="text/plain")

    def chunked(c):
        _, plaintext = c.key()
        builder = EnvironBuilder(
            path="/api/v1/generate",
            method="POST",
            headers={"Authorization": bearer(plaintext)},
            content_type="application/json",
        )
        environ = builder.get_environ()
        environ.pop("CONTENT_LENGTH", None)  # a chunked body has no length
        environ["HTTP_TRANSFER_ENCODING"] = "chunked"
        # Straight to the application: the test client would give the body a length again.
        body, status, headers = run_wsgi_app(c.http.application, environ, buffered=True)
        return GENERATE, TestResponse(body, status, headers, request=Request(environ))

    def unknown_model(c):
        return generate(c, {"prompt": "x", "options": {"model": "nope"}})

    def in_flight(c):
        Plan.objects.filter(code="business").update(max_jobs_in_flight=0)
        return generate(c, {"prompt": "x"})

    def key_spend_limit(c):
        _, plaintext = c.key(spend_limit_credits=0)
        return generate(c, {"prompt": "x"}, plaintext=plaintext)

    def project_spend_limit(c):
        project = project_create(
            organization=c.org, name="Capped", monthly_spend_limit=0, actor=SYSTEM
        )
        _, plaintext = c.key(project=project)
        return generate(c, {"prompt": "x"}, plaintext=plaintext)

    def org_spend_limit(c):
        credits_spend_limit_set(organization=c.org, monthly_limit=0, actor=SYSTEM)
        return generate(c, {"prompt": "x"})

    def no_credits(c):
        _, plaintext = c.make_key(c.make_org(credits=0), permissions=ALL)
        return generate(c, {"prompt": "x"}, plaintext=plaintext)

    def reused_idempotency_key(c):
        _, plaintext = c.key()
        generate(c, {"prompt": "x"}, plaintext=plaintext, headers={"Idempotency-Key": "k-1"})
        return generate(c, {"prompt": "y"}, plaintext=plaintext, headers={"Idempotency-Key": "k-1"})

    def unknown_job(c):
        _, plaintext = c.key()
        return STATUS, c.send("get", "/api/v1/status/job_nope", key=plaintext)

    def cancel_finished(c):
        _, plaintext = c.key()
        job_id = generate(c, {"prompt": "x"}, plaintext=plaintext)[1].json["job_id"]
        c.send("post", f"/api/v1/jobs/{job_id}/cancel", key=plaintext)
        response = c.send("post", f"/api/v1/jobs/{job_id}/cancel", key=plaintext)
        return ("post", "/api/v1/jobs/{job_id}/cancel"), response

    def cancel_unknown(c):
        _, plaintext = c.key()
        response = c.send("post", "/api/v1/jobs/job_nope/cancel", key=plaintext)
        return ("post", "/api/v1/jobs/{job_id}/cancel"), response

    def list_bad_filter(c):
        _, plaintext = c.key()
        return ("get", "/api/v1/jobs"), c.send("get", "/api/v1/jobs?status=", key=plaintext)

    def control_character_in_path(c):
        _, plaintext = c.key()
        return STATUS, c.send("get", "/api/v1/status/job%01x", key=plaintext)

    return {
        "invalid_request": bad_body,
        "unsupported_media_type": wrong_media_type,
        "length_required": chunked,
        "model_not_available": unknown_model,
        "too_many_jobs_in_flight": in_flight,
        "spend_limit_reached": key_spend_limit,
        "project_spend_limit_reached": project_spend_limit,
        "org_spend_limit_reached": org_spend_limit,
        "insufficient_credits": no_credits,
        "idempotency_key_reused": reused_idempotency_key,
        "job_not_found": unknown_job,
        "job_not_cancelable": cancel_finished,
        "job_not_found-cancel": cancel_unknown,
        "invalid_request-list": list_bad_filter,
        "not_found": control_character_in_path,
    }


def _key_cases():
    def other(c, **fields):
        key, _ = c.key(**fields)
        return key.key_id

    def send(c, method, path, key_id="", body=None, plaintext=None):
        plaintext = plaintext or c.key()[1]
        url = path.replace("{key_id}", key_id)
        return (method, path), c.send(method, url, key=plaintext, body=body)

    def unknown_key(c):
        return send(c, "get", KEY, "key_nope")

    def stronger_key(c):
        _, weak = c.key(permissions=[Permission.KEYS_MANAGE])
        return send(
            c, "post", "/api/v1/keys", body={"name": "x", "permissions": ALL}, plaintext=weak
        )

    def key_limit(c):
        _, plaintext = c.key()
        Plan.objects.filter(code="business").update(live_key_limit=1)
        return send(c, "post", "/api/v1/keys", body={"name": "x"}, plaintext=plaintext)

    def creations_per_day(c):
        _, plaintext = c.key()
        Plan.objects.filter(code="business").update(key_creations_per_day=0)
        return send(c, "post", "/api/v1/keys", body={"name": "x"}, plaintext=plaintext)

    def delete_active(c):
        return send(c, "delete", KEY, other(c))

    def enable_revoked(c):
        key, _ = c.key()
        apikey_revoke(key=key, actor=SYSTEM)
        return send(c, "post", KEY + "/enable", key.key_id)

    return {
        "key_not_found": unknown_key,
        "exceeds_own_privileges": stronger_key,
        "key_limit_reached": key_limit,
        "key_creation_limit_reached": creations_per_day,
        "key_not_revoked": delete_active,
        "key_revoked": enable_revoked,
    }


def _webhook_cases():
    def send(c, method, url, path, body=None):
        _, plaintext = c.key()
        return (method, path), c.send(method, url, key=plaintext, body=body)

    def unknown_endpoint(c):
        return send(c, "delete", "/api/v1/webhooks/we_nope", "/api/v1/webhooks/{endpoint_id}")

    def too_many_endpoints(c):
        c.settings.WEBHOOKS_MAX_ENDPOINTS = 0
        body = {"url": "https://example.com/hook", "events": ["job.succeeded"]}
        return send(c, "post", "/api/v1/webhooks", "/api/v1/webhooks", body)

    def private_address(c):
        body = {"url": "https://127.0.0.1/hook", "events": ["job.succeeded"]}
        return send(c, "post", "/api/v1/webhooks", "/api/v1/webhooks", body)

    return {
        "webhook_not_found": unknown_endpoint,
        "webhook_limit_reached": too_many_endpoints,
        "invalid_request": private_address,
    }


CASES = [
    pytest.param(code, case, id=f"{group}-{code}")
    for group, cases in (
        ("pipeline", _pipeline_cases()),
        ("jobs", _job_cases()),
        ("keys", _key_cases()),
        ("webhooks", _webhook_cases()),
    )
    for code, case in cases.items()
]


@pytest.mark.usefixtures("one_minute")
@pytest.mark.parametrize(("code", "case"), CASES)
def test_each_refusal_is_declared_by_its_operation(
    code, case, make_org, make_key, settings, wsgi_app, openapi
):
    code = code.split("-")[0]
    (method, path), response = case(Case(make_org, make_key, settings, wsgi_app))
    assert response.json["error"]["code"] == code, response.json
    operation = openapi["paths"][path][method]
    assert code in openapi_error_codes(operation, response.status_code)
    declared = operation["responses"][str(response.status_code)]
    for name, header in declared["headers"].items():
        if header.get("required"):
            assert name in response.headers, f"{name} missing on {code}"
    schemathesis.openapi.from_dict(openapi)[path][method.upper()].validate_response(response)
