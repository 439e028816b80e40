"""A client generated from the schema by openapi-python-client works against a real server.

The schema is dumped, a package generated into a temporary folder and imported; its typed
functions then submit a job, read it back, list and cancel jobs and read the rate-limit headers
over HTTP
(pytest-django's ``live_server``). Every response must parse into the declared models.
"""

import importlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from apikeys.keys.models import Permission
from jobs.tasks import run_job

GENERATOR = shutil.which("openapi-python-client") or str(
    Path(sys.executable).parent / "openapi-python-client"
)
pytestmark = [
    pytest.mark.client,
    pytest.mark.skipif(
        not Path(GENERATOR).exists(), reason="openapi-python-client is not installed"
    ),
]
PACKAGE = "perceptis_client"


@pytest.fixture
def generated(client, tmp_path):
    """Generate the client from the served schema and import it; forget it afterwards."""
    schema = tmp_path / "openapi.json"
    schema.write_bytes(client.get("/api/v1/schema/", HTTP_ACCEPT="application/json").content)
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"post_hooks": []}))
    subprocess.run(
        [
            GENERATOR,
            "generate",
            "--path",
            str(schema),
            "--meta",
            "none",
            "--output-path",
            str(tmp_path / PACKAGE),
            "--config",
            str(config),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    sys.path.insert(0, str(tmp_path))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(tmp_path))
        for name in [n for n in sys.modules if n == PACKAGE or n.startswith(PACKAGE + ".")]:
            del sys.modules[name]


def _module(package, name):
    return importlib.import_module(f"{package.__name__}.{name}")


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_generated_client_submits_reads_and_sees_rate_limit_headers(
    generated, live_server, make_org, make_key
):
    organization = make_org(plan="business", credits=1000)
    _, plaintext = make_key(organization, permissions=[p.value for p in Permission])
    api = generated.AuthenticatedClient(
        base_url=live_server.url, token=plaintext, raise_on_unexpected_status=True
    )
    generate = _module(generated, "api.jobs.generate")
    job_status = _module(generated, "api.jobs.job_status")
    models = _module(generated, "models")

    submitted = generate.sync_detailed(
        client=api,
        body=models.GenerateRequestRequest(prompt="Write a haiku about schemas"),
        idempotency_key="client-test-1",
    )
    assert submitted.status_code == 202
    job = submitted.parsed
    assert isinstance(job, models.SubmittedJob)
    assert job.status == models.JobStatusEnum.QUEUED
    assert job.result is None and job.usage is None and job.error is None
    assert submitted.headers["Location"] == job.status_url == f"/api/v1/status/{job.job_id}"
    limit = int(submitted.headers["RateLimit-Limit"])
    assert 0 <= int(submitted.headers["RateLimit-Remaining"]) < limit

    replayed = generate.sync_detailed(
        client=api,
        body=models.GenerateRequestRequest(prompt="Write a haiku about schemas"),
        idempotency_key="client-test-1",
    )
    assert replayed.parsed.job_id == job.job_id
    assert replayed.headers["Idempotent-Replayed"] == "true"

    assert run_job(job.job_id) == "succeeded"
    status = job_status.sync_detailed(client=api, job_id=job.job_id)
    assert status.status_code == 200
    done = status.parsed
    assert isinstance(done, models.Job)
    assert done.status == models.JobStatusEnum.SUCCEEDED
    assert isinstance(done.result, models.JobResult)
    assert done.result.text.startswith("Generated")
    assert isinstance(done.usage, models.JobUsage)
    assert done.usage.input_tokens > 0 and done.usage.output_tokens > 0
    assert done.finished_at is not None and done.credits_charged >= 1
    assert int(status.headers["RateLimit-Remaining"]) >= 0
    assert status.headers["X-Request-ID"]

    second = generate.sync(
        client=api, body=models.GenerateRequestRequest(prompt="Another, to cancel")
    )
    listed = _module(generated, "api.jobs.jobs_list").sync_detailed(client=api, limit=1)
    assert listed.status_code == 200
    page = listed.parsed
    assert isinstance(page, models.JobPage)
    assert [job.job_id for job in page.results] == [second.job_id]
    assert page.next_ is not None  # "next" is a Python builtin
    everything = _module(generated, "api.jobs.jobs_list").sync(
        client=api, status=models.JobsListStatus.SUCCEEDED
    )
    assert [job.job_id for job in everything.results] == [job.job_id]
    assert everything.results[0].result.text == done.result.text

    cancel = _module(generated, "api.jobs.jobs_cancel")
    canceled = cancel.sync_detailed(client=api, job_id=second.job_id)
    assert canceled.status_code == 200
    assert canceled.parsed.status == models.JobStatusEnum.CANCELED
    assert canceled.parsed.cancel_requested is True
    assert canceled.parsed.credits_charged == 0
    again = cancel.sync_detailed(client=api, job_id=job.job_id)
    assert again.status_code == 409
    assert again.parsed.error.code.value == "job_not_cancelable"


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_generated_client_parses_refusals_and_the_other_endpoints(
    generated, live_server, make_org, make_key
):
    organization = make_org(plan="business", credits=1000)
    _, plaintext = make_key(organization, permissions=[p.value for p in Permission])
    api = generated.AuthenticatedClient(
        base_url=live_server.url, token=plaintext, raise_on_unexpected_status=True
    )
    models = _module(generated, "models")

    missing = _module(generated, "api.jobs.job_status").sync_detailed(
        client=api, job_id="job_unknown"
    )
    assert missing.status_code == 404
    assert missing.parsed.error.code.value == "job_not_found"
    assert missing.parsed.error.request_id == missing.headers["X-Request-ID"]

    anonymous = generated.Client(base_url=live_server.url, raise_on_unexpected_status=True)
    refused = _module(generated, "api.models.models").sync_detailed(client=anonymous)
    assert refused.status_code == 401
    assert refused.parsed.error.code.value == "missing_api_key"

    created = _module(generated, "api.keys.keys_create").sync_detailed(
        client=api, body=models.KeyCreateRequest(name="from the client")
    )
    assert created.status_code == 201
    assert created.parsed.key.startswith("sk-live-per-")
    page = _module(generated, "api.keys.keys_list").sync_detailed(client=api)
    assert created.parsed.id in {key.id for key in page.parsed.results}
    revoked = _module(generated, "api.keys.keys_revoke").sync_detailed(
        client=api, key_id=created.parsed.id
    )
    assert revoked.parsed.status == models.KeyStatusEnum.REVOKED

    usage = _module(generated, "api.usage.usage").sync_detailed(client=api)
    assert usage.status_code == 200
    assert usage.parsed.credits_.balance == 1000  # "credits" is a Python builtin
    prices = _module(generated, "api.models.models").sync_detailed(client=api)
    assert {entry.id for entry in prices.parsed.results} >= {"gpt-4o-mini"}

    registered = _module(generated, "api.webhooks.webhooks_create").sync_detailed(
        client=api,
        body=models.EndpointCreateRequest(
            url="https://example.com/hooks", events=[models.WebhookEventEnum.JOB_SUCCEEDED]
        ),
    )
    assert registered.status_code == 201
    endpoint = registered.parsed
    assert endpoint.secret.startswith("whsec_")
    fetched = _module(generated, "api.webhooks.webhooks_retrieve").sync(
        client=api, endpoint_id=endpoint.id
    )
    assert fetched.events == [models.WebhookEventEnum.JOB_SUCCEEDED]
    deleted = _module(generated, "api.webhooks.webhooks_delete").sync_detailed(
        client=api, endpoint_id=endpoint.id
    )
    assert deleted.status_code == 204
    gone = _module(generated, "api.webhooks.webhooks_retrieve").sync_detailed(
        client=api, endpoint_id=endpoint.id
    )
    assert gone.status_code == 404
    assert gone.parsed.error.code.value == "webhook_not_found"


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_generated_client_reads_costs_by_key_and_model(generated, live_server, make_org, make_key):
    from datetime import timedelta

    from django.utils import timezone

    organization = make_org(plan="business", credits=1000)
    key, plaintext = make_key(organization, permissions=[p.value for p in Permission])
    api = generated.AuthenticatedClient(
        base_url=live_server.url, token=plaintext, raise_on_unexpected_status=True
    )
    models = _module(generated, "models")
    submitted = _module(generated, "api.jobs.generate").sync(
        client=api, body=models.GenerateRequestRequest(prompt="What did this cost?")
    )
    assert run_job(submitted.job_id) == "succeeded"
    usage_costs = _module(generated, "api.usage.usage_costs")
    today = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)

    answer = usage_costs.sync_detailed(
        client=api,
        start=today - timedelta(days=2),
        end=today + timedelta(days=1),
        bucket=models.UsageCostsBucket.DAY,
        group_by="key,model",
    )

    assert answer.status_code == 200
    report = answer.parsed
    assert isinstance(report, models.CostReport)
    assert [len(bucket.results) for bucket in report.buckets] == [0, 0, 1]
    [row] = report.buckets[-1].results
    assert isinstance(row, models.CostResult)
    assert (row.key_id, row.model, row.test, row.jobs) == (key.key_id, "gpt-4o-mini", False, 1)
    assert row.credits_ == report.totals.credits_ >= 1  # "credits" is a Python builtin
    too_long = usage_costs.sync_detailed(client=api, start=today - timedelta(days=40), end=today)
    assert too_long.status_code == 400
    assert too_long.parsed.error.code.value == "invalid_request"
