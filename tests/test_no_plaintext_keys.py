"""After a realistic flow, no plaintext key is found in the database, the logs or any response."""

import io
import logging

import pytest
from django.apps import apps
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from apikeys.keys.models import ApiKey
from apikeys.keys.services import apikey_create, apikey_disable, apikey_revoke, apikey_rotate
from jobs.services import job_run
from tests.helpers import SYSTEM, bearer

GENERATE = "/api/v1/generate"


def _secret_part(plaintext: str) -> str:
    """Return the random body of a key: finding it anywhere means the key leaked."""
    return plaintext[len("sk-live-per-") :][:43]


def _leaks(text: str, plaintexts: list[str]) -> list[str]:
    return [p for p in plaintexts if p in text or _secret_part(p) in text]


def _every_stored_value() -> str:
    """Return every row of every table, as text, including through tables."""
    chunks = []
    for model in apps.get_models(include_auto_created=True):
        manager = model._base_manager
        for row in manager.all().values_list():
            chunks.append(f"{model._meta.label}: {row!r}")
    return "\n".join(chunks)


@pytest.fixture
def flow(make_org, caplog):
    """Run keys, commands, rotations and good and bad requests; return what was produced."""
    for name in ("", "django", "django.request", "django_q", "django.db.backends"):
        caplog.set_level(logging.DEBUG, logger=name or None)
    org = make_org(credits=5)
    poor = make_org(credits=0)
    plaintexts, responses = [], []

    live, live_plain = apikey_create(organization=org, name="Live", actor=SYSTEM)
    test, test_plain = apikey_create(organization=poor, name="Test", actor=SYSTEM, type="test")
    _, poor_plain = apikey_create(organization=poor, name="Poor", actor=SYSTEM)
    _, readonly_plain = apikey_create(
        organization=org, name="Read only", actor=SYSTEM, permissions=["jobs:read"]
    )
    plaintexts += [live_plain, test_plain, poor_plain, readonly_plain]

    out, err = io.StringIO(), io.StringIO()
    call_command("create_api_key", "--org", org.slug, "--name", "From CLI", stdout=out, stderr=err)
    cli_plain = out.getvalue().strip()
    assert cli_plain.startswith("sk-live-per-")
    assert not _leaks(err.getvalue(), [cli_plain])
    plaintexts.append(cli_plain)
    cli_key = ApiKey.objects.get(key_id=err.getvalue().strip())

    _, rotated_plain = apikey_rotate(key=live, actor=SYSTEM, grace_period_seconds=600)
    _, rotated_again = apikey_rotate(key=live, actor=SYSTEM)
    plaintexts += [rotated_plain, rotated_again]

    client = APIClient(raise_request_exception=False)

    def send(method, path, plaintext=None, **extra):
        if plaintext is not None:
            extra["HTTP_AUTHORIZATION"] = bearer(plaintext)
        response = getattr(client, method)(path, **extra)
        responses.append(response)
        return response

    with CaptureQueriesContext(connection) as queries:
        job = send("post", GENERATE, rotated_again, data={"prompt": "hi"}, format="json")
        assert job.status_code == 202
        send(
            "post",
            GENERATE,
            test_plain,
            data={"prompt": "hi"},
            format="json",
            HTTP_IDEMPOTENCY_KEY="idem-1",
        )
        send("get", job["Location"], rotated_again)
        send("get", job["Location"], readonly_plain)  # another key's job: 404
        send("post", GENERATE, live_plain, data={"prompt": "hi"}, format="json")  # rotated out
        send("post", GENERATE, poor_plain, data={"prompt": "hi"}, format="json")  # 402
        send("post", GENERATE, readonly_plain, data={"prompt": "hi"}, format="json")  # 403
        send("post", GENERATE, cli_plain, data="prompt=hi", content_type="text/plain")  # 415
        send("post", GENERATE, cli_plain, data=b"{", content_type="application/json")  # 400
        send("post", GENERATE, cli_plain + "x", data={"prompt": "hi"}, format="json")  # 401
        send("post", GENERATE, cli_plain[:-1] + "A", data={"prompt": "hi"}, format="json")
        send("get", f"/api/v1/status/{cli_plain}", cli_plain)  # a key pasted as a job id
        send("get", f"/api/v1/nothing?key={cli_plain}", cli_plain)
        # A client that puts its key in the request id header must not get it echoed or logged.
        send("get", "/api/v1/status/job_x", cli_plain, HTTP_X_REQUEST_ID=cli_plain)
        send("get", "/api/v1/status/job_x", f"Token {cli_plain}")
        apikey_disable(key=cli_key, actor=SYSTEM)
        send("get", "/api/v1/status/job_x", cli_plain)  # 401 inactive
        apikey_revoke(key=test, actor=SYSTEM)
        send("post", GENERATE, test_plain, data={"prompt": "hi"}, format="json")  # 401 revoked
        job_run(job_id=job.json()["job_id"])
        send("get", job["Location"], rotated_again)
        call_command("revoke_api_key", cli_key.key_id, stdout=io.StringIO())

    return {
        "plaintexts": plaintexts,
        "responses": responses,
        "queries": queries,
        # The flow runs in the fixture: keep its records before the test phase starts.
        "records": list(caplog.records),
    }


def test_no_plaintext_key_is_stored_in_any_table(flow):
    stored = _every_stored_value()
    assert "api_key" in stored.lower() or "apikey" in stored.lower()
    assert not _leaks(stored, flow["plaintexts"])


def test_no_plaintext_key_is_sent_to_the_database(flow):
    sql = "\n".join(q["sql"] for q in flow["queries"].captured_queries)
    assert sql
    assert not _leaks(sql, flow["plaintexts"])


def test_no_plaintext_key_is_logged(flow):
    records = flow["records"]
    assert any(r.name == "django.request" for r in records), "refusals should have been logged"
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    text = "\n".join(formatter.format(r) for r in records)
    assert "Not Found: /api/v1/status/sk-live-per-[redacted]" in text
    assert not _leaks(text, flow["plaintexts"])


def test_no_response_carries_a_plaintext_key(flow):
    responses = flow["responses"]
    assert sum(r.status_code >= 400 for r in responses) >= 10
    for response in responses:
        headers = "\n".join(f"{k}: {v}" for k, v in response.items())
        cookies = str(response.cookies)
        assert not _leaks(response.content.decode() + headers + cookies, flow["plaintexts"]), (
            response.status_code,
            response.content,
        )
    for response in responses:
        if response.status_code >= 400:
            assert set(response.json()) == {"error"}
