"""A job's status body is kept in the read model: with Redis every poll after the first, in
every state, is answered by the authentication's one Redis call; a submission stores none (its
first poll or its claim does); a late write never replaces a newer state; a miss reads the
database; another key never reads it."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.audit import Actor
from apikeys.keys import readmodels
from jobs.models import Job
from jobs.services import job_cancel, job_submit
from jobs.services.execution import job_claim, job_fail, job_requeue, job_succeed
from jobs.status import job_status_body, job_status_store, read_model_name

STATUS = "/api/v1/status/{}"


@pytest.fixture
def redis_read_models(own_redis, settings):
    settings.JOBS_READ_MODEL_SECONDS = 3600
    return own_redis


def _poll(client, job):
    response = client.get(STATUS.format(job.job_id))
    assert response.status_code == 200
    return response.json()


def _warm(client, job):
    """Poll once so that the key's record is cached and its last use recorded."""
    _poll(client, job)


def test_every_state_is_polled_without_a_query(
    redis_read_models,
    live_key,
    client_for,
    django_assert_num_queries,
    django_capture_on_commit_callbacks,
):
    key, plaintext = live_key
    client = client_for(plaintext)
    with django_capture_on_commit_callbacks(execute=True):
        job = job_submit(key=key, prompt="hi").job
    _warm(client, job)

    def poll_without_query():
        with django_assert_num_queries(0):
            return _poll(client, job)

    assert poll_without_query()["status"] == "queued"
    with django_capture_on_commit_callbacks(execute=True):
        job = job_claim(job_id=job.job_id)
    assert poll_without_query()["status"] == "running"
    with django_capture_on_commit_callbacks(execute=True):
        job_cancel(job=job, actor=Actor(key=key))
    body = poll_without_query()
    assert (body["status"], body["cancel_requested"]) == ("running", True)
    job.refresh_from_db()
    assert body == job_status_body(job)


def test_success_failure_and_requeue_reach_the_read_model(
    redis_read_models,
    live_key,
    client_for,
    django_assert_num_queries,
    django_capture_on_commit_callbacks,
):
    key, plaintext = live_key
    client = client_for(plaintext)
    with django_capture_on_commit_callbacks(execute=True):
        requeued = job_submit(key=key, prompt="a").job
        failed = job_submit(key=key, prompt="b").job
        succeeded = job_submit(key=key, prompt="c").job
    _warm(client, requeued)
    with django_capture_on_commit_callbacks(execute=True):
        job_requeue(job=job_claim(job_id=requeued.job_id))
        job_fail(job=job_claim(job_id=failed.job_id), code="engine_error", message="gave up")
        job_succeed(job=job_claim(job_id=succeeded.job_id), result={"text": "ok", "usage": {}})
    with django_assert_num_queries(0):
        states = [_poll(client, job)["status"] for job in (requeued, failed, succeeded)]
    assert states == ["queued", "failed", "succeeded"]


def test_a_late_write_never_replaces_a_newer_state(redis_read_models, live_key, client_for):
    key, plaintext = live_key
    job = job_submit(key=key, prompt="hi").job
    queued = Job.objects.get(pk=job.pk)
    running = job_claim(job_id=job.job_id)

    job_status_store(running)
    job_status_store(queued)  # a write that was late: the older state

    assert _poll(client_for(plaintext), job)["status"] == "running"


def test_a_generate_stores_no_read_model_its_first_poll_or_its_claim_does(
    redis_read_models,
    live_key,
    client_for,
    django_assert_num_queries,
    django_capture_on_commit_callbacks,
):
    key, plaintext = live_key
    client = client_for(plaintext)
    with django_capture_on_commit_callbacks(execute=True):
        first = client.post(
            "/api/v1/generate", {"prompt": "a"}, content_type="application/json"
        ).json()
        second = client.post(
            "/api/v1/generate", {"prompt": "b"}, content_type="application/json"
        ).json()
    stored = [
        readmodels.read_model_get(key.organization_id, key.pk, read_model_name(body["job_id"]))
        for body in (first, second)
    ]
    assert stored == [None, None]

    # The first: polled while queued; the database answers once, then the read model.
    submitted = {name: value for name, value in first.items() if name != "status_url"}
    with django_assert_num_queries(1):
        assert _poll(client, Job(job_id=first["job_id"])) == submitted
    with django_assert_num_queries(0):
        assert _poll(client, Job(job_id=first["job_id"]))["status"] == "queued"
    # The second: claimed before any poll; the claim stores it.
    with django_capture_on_commit_callbacks(execute=True):
        job_claim(job_id=second["job_id"])
    with django_assert_num_queries(0):
        assert _poll(client, Job(job_id=second["job_id"]))["status"] == "running"


def test_a_miss_reads_the_database_and_stores_what_it_read(
    redis_read_models, live_key, client_for, django_assert_num_queries
):
    key, plaintext = live_key
    job = job_submit(key=key, prompt="hi").job  # a submission stores nothing
    client = client_for(plaintext)
    assert (
        readmodels.read_model_get(key.organization_id, key.pk, read_model_name(job.job_id)) is None
    )
    assert _poll(client, job)["status"] == "queued"
    with django_assert_num_queries(0):
        assert _poll(client, job)["status"] == "queued"


def test_another_key_of_the_organization_never_reads_a_jobs_read_model(
    redis_read_models, live_key, make_key, client_for, django_capture_on_commit_callbacks
):
    key, plaintext = live_key
    with django_capture_on_commit_callbacks(execute=True):
        job = job_submit(key=key, prompt="hi").job
        job_claim(job_id=job.job_id)
    # Stored for its key, by the claim and by its key's first poll.
    assert _poll(client_for(plaintext), job)["status"] == "running"
    assert readmodels.read_model_get(key.organization_id, key.pk, read_model_name(job.job_id))
    other_key, other = make_key(key.organization)
    response = client_for(other).get(STATUS.format(job.job_id))
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "job_not_found"
    name = read_model_name(job.job_id)
    assert readmodels.read_model_get(key.organization_id, other_key.pk, name) is None


def test_a_body_that_can_still_change_lives_briefly(redis_read_models, live_key, settings):
    """A write lost to an outage shows no longer than ``JOBS_READ_MODEL_LIVE_SECONDS``."""
    from apikeys.keys import redis_contract
    from apikeys.keys.redis_client import prefix, redis_or_none

    settings.JOBS_READ_MODEL_LIVE_SECONDS = 7
    key, _ = live_key
    job = job_submit(key=key, prompt="hi").job
    job_status_store(job)
    name = redis_contract.READ_MODEL.format(
        organization=key.organization_id, key=key.pk, name=read_model_name(job.job_id)
    )
    assert 0 < redis_or_none().ttl(prefix() + name) <= 7


def test_with_redis_stopped_a_poll_reads_the_database(
    redis_read_models, live_key, client_for, django_capture_on_commit_callbacks
):
    key, plaintext = live_key
    with django_capture_on_commit_callbacks(execute=True):
        job = job_submit(key=key, prompt="hi").job
    client = client_for(plaintext)
    assert _poll(client, job)["status"] == "queued"
    redis_read_models()  # stop it
    Job.objects.filter(pk=job.pk).update(
        status=Job.Status.RUNNING, started_at=timezone.now() + timedelta(seconds=1)
    )
    assert _poll(client, job)["status"] == "running"


def test_without_redis_only_final_states_are_kept(live_key, client_for, settings):
    """Each process's own cache would never hear of another process's transition."""
    settings.JOBS_READ_MODEL_SECONDS = 3600
    key, plaintext = live_key
    job = job_submit(key=key, prompt="hi").job
    if readmodels.shared():
        pytest.skip("the cache is Redis here")
    client = client_for(plaintext)
    assert _poll(client, job)["status"] == "queued"
    Job.objects.filter(pk=job.pk).update(status=Job.Status.RUNNING, started_at=timezone.now())
    assert _poll(client, job)["status"] == "running"
