"""The authenticated status request: two queries, no writes, the documented body."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework import serializers

from apikeys.keys.keyformat import generate
from apikeys.keys.lookup import lookup_key
from apikeys.keys.ratelimit import hit
from jobs.models import Job
from jobs.serializers import JobSerializer
from jobs.services import job_submit
from jobs.status import job_status_body
from tests.helpers import bearer


@pytest.fixture
def job(live_key):
    key, _ = live_key
    return job_submit(key=key, prompt="A lighthouse at dusk").job


def _status(api, plaintext, job_id):
    return api.get(f"/api/v1/status/{job_id}", HTTP_AUTHORIZATION=bearer(plaintext))


def test_authenticated_status_request_makes_two_reads_and_no_write(api, live_key, job, settings):
    # The key and the job from the database (with Redis: the key cache and the read model).
    settings.APIKEYS_KEY_CACHE = False
    settings.JOBS_READ_MODEL_SECONDS = 0
    _, plaintext = live_key
    assert _status(api, plaintext, job.job_id).status_code == 200  # records the key's use

    with CaptureQueriesContext(connection) as captured:
        response = _status(api, plaintext, job.job_id)

    assert response.status_code == 200
    statements = [q["sql"] for q in captured.captured_queries]
    assert len(statements) == 2, statements
    # On PostgreSQL the key lookup runs as its prepared statement.
    reads = ("SELECT", "EXECUTE PERCEPTIS_KEY_LOOKUP")
    assert all(sql.lstrip().upper().startswith(reads) for sql in statements), statements


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_key_lookup_is_prepared_again_on_a_new_database_session(api, live_key, job, settings):
    settings.APIKEYS_KEY_CACHE = False
    _, plaintext = live_key
    assert _status(api, plaintext, job.job_id).status_code == 200
    # A new session has none of the old one's prepared statements; Django reconnects under
    # the same connection wrapper object (CONN_MAX_AGE, health checks).
    connection.close()

    response = _status(api, plaintext, job.job_id)

    assert response.status_code == 200
    assert response.json()["job_id"] == job.job_id


def test_key_use_is_written_again_only_after_a_minute(api, live_key, job, monkeypatch):
    key, plaintext = live_key
    _status(api, plaintext, job.job_id)
    with CaptureQueriesContext(connection) as captured:
        _status(api, plaintext, job.job_id)
    assert not [
        q for q in captured.captured_queries if q["sql"].lstrip().upper().startswith("UPDATE")
    ]

    later = timezone.now() + timedelta(seconds=61)
    monkeypatch.setattr(timezone, "now", lambda: later)
    with CaptureQueriesContext(connection) as captured:
        _status(api, plaintext, job.job_id)

    assert any(q["sql"].lstrip().upper().startswith("UPDATE") for q in captured.captured_queries)
    key.refresh_from_db()
    assert key.last_used_at == later


def test_key_lookup_loads_key_organization_and_plan_in_one_query(
    live_key, django_assert_num_queries
):
    key, plaintext = live_key
    lookup_key(plaintext)  # prepares the statement on this session (PostgreSQL)
    with django_assert_num_queries(1):
        found, secret = lookup_key(plaintext)
        plan = found.organization.plan
        assert (plan.api_access, plan.rate_limit_per_minute) == (
            key.organization.plan.api_access,
            key.organization.plan.rate_limit_per_minute,
        )
        assert found.permissions == key.permissions
        assert found.ip_allowlist == [] and found.expires_at is None
        assert secret.key is found and secret.is_current(timezone.now())
    assert found.pk == key.pk and found.organization_id == key.organization_id
    assert found.hint == key.hint  # a column left out still loads on access


def test_unknown_key_is_not_found(make_org, make_key):
    _, plaintext = make_key(make_org())

    assert lookup_key(generate("live")) is None
    assert lookup_key(plaintext) is not None


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"status": Job.Status.RUNNING, "started_at": timezone.now()},
        {
            "status": Job.Status.SUCCEEDED,
            "started_at": timezone.now(),
            "finished_at": timezone.now(),
            "result": {"text": "ok", "tokens": [1, 2]},
            "credits_charged": 1,
        },
        {
            "status": Job.Status.FAILED,
            "finished_at": timezone.now(),
            "error_code": "engine_error",
            "error_message": "The engine gave up.",
        },
    ],
    ids=["queued", "running", "succeeded", "failed"],
)
def test_status_body_has_the_schemas_fields_rendered_as_drf_renders_them(job, changes):
    Job.objects.filter(pk=job.pk).update(**changes)
    job.refresh_from_db()

    body = job_status_body(job)

    assert list(body) == JobSerializer.Meta.fields
    assert JobSerializer(job).data == body
    for name in ("created_at", "started_at", "finished_at"):
        value = getattr(job, name)
        expected = None if value is None else serializers.DateTimeField().to_representation(value)
        assert body[name] == expected


def test_rate_limit_counter_counts_every_request_in_the_window(live_key):
    key, _ = live_key
    now = 1_700_000_000.0
    states = [hit(key, now=now + i) for i in range(3)]
    limit = key.effective_rate_limit()
    assert [s.remaining for s in states] == [limit - 1, limit - 2, limit - 3]
