"""``GET /api/v1/jobs``: the calling key's own jobs, newest first, paginated and filtered."""

from datetime import timedelta
from urllib.parse import quote

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from jobs.models import Job
from jobs.services import job_cancel, job_run, job_submit
from tests.helpers import SYSTEM

JOBS = "/api/v1/jobs"
BASE = timezone.now().replace(microsecond=0) - timedelta(days=1)


def submit(key, *, hours: int = 0, prompt: str = "list me") -> Job:
    """Submit a job through the service, then date it ``hours`` after ``BASE``."""
    job = job_submit(key=key, prompt=prompt, options={}).job
    Job.objects.filter(pk=job.pk).update(created_at=BASE + timedelta(hours=hours))
    job.refresh_from_db()
    return job


def ids(response) -> list[str]:
    return [item["job_id"] for item in response.json()["results"]]


@pytest.fixture
def mine(org, live_key, client_for):
    key, plaintext = live_key
    return key, client_for(plaintext)


def test_lists_only_the_calling_keys_jobs_newest_first(org, mine, make_org, make_key, client_for):
    key, client = mine
    first, second, third = (submit(key, hours=h) for h in (1, 2, 3))
    sibling, _ = make_key(org)
    test_key, _ = make_key(org, type="test")
    stranger, _ = make_key(make_org())
    for other in (sibling, test_key, stranger):
        submit(other, hours=5)

    response = client.get(JOBS)

    assert response.status_code == 200
    assert ids(response) == [third.job_id, second.job_id, first.job_id]
    assert response.json()["next"] is None


def test_each_item_is_exactly_the_status_body(mine):
    key, client = mine
    done = submit(key, hours=1)
    job_run(job_id=done.job_id)
    queued = submit(key, hours=2)

    items = client.get(JOBS).json()["results"]

    assert items == [client.get(f"/api/v1/status/{j.job_id}").json() for j in (queued, done)]
    assert items[1]["status"] == "succeeded" and items[1]["cancel_requested"] is False


def test_limit_and_next_walk_every_job_once(mine):
    key, client = mine
    jobs = [submit(key, hours=h) for h in range(5)]
    # Two jobs submitted in the same instant still come out once each, in a stable order.
    Job.objects.filter(pk=jobs[2].pk).update(created_at=jobs[3].created_at)

    seen, url = [], f"{JOBS}?limit=2"
    while url:
        page = client.get(url).json()
        assert len(page["results"]) <= 2
        seen += [item["job_id"] for item in page["results"]]
        url = page["next"]

    assert sorted(seen) == sorted(j.job_id for j in jobs)
    assert len(seen) == 5
    assert seen[0] == jobs[4].job_id


def test_next_keeps_the_filters(mine):
    key, client = mine
    for h in range(3):
        submit(key, hours=h)
    canceled = [submit(key, hours=10 + h) for h in range(3)]
    for job in canceled:
        job_cancel(job=job, actor=SYSTEM)

    page = client.get(f"{JOBS}?status=canceled&limit=2").json()
    rest = client.get(page["next"]).json()

    assert "status=canceled" in page["next"]
    assert ids_of(page) + ids_of(rest) == [j.job_id for j in reversed(canceled)]
    assert rest["next"] is None


def ids_of(page) -> list[str]:
    return [item["job_id"] for item in page["results"]]


def test_status_filter(mine):
    key, client = mine
    queued = submit(key, hours=1)
    done = submit(key, hours=2)
    job_run(job_id=done.job_id)

    assert ids(client.get(f"{JOBS}?status=queued")) == [queued.job_id]
    assert ids(client.get(f"{JOBS}?status=succeeded")) == [done.job_id]
    assert ids(client.get(f"{JOBS}?status=failed")) == []


def test_created_after_and_before_are_inclusive_bounds(mine):
    key, client = mine
    jobs = [submit(key, hours=h) for h in range(4)]
    after = quote((BASE + timedelta(hours=1)).isoformat())
    before = quote((BASE + timedelta(hours=2)).isoformat())

    assert ids(client.get(f"{JOBS}?created_after={after}")) == [
        jobs[3].job_id,
        jobs[2].job_id,
        jobs[1].job_id,
    ]
    assert ids(client.get(f"{JOBS}?created_before={before}")) == [
        jobs[2].job_id,
        jobs[1].job_id,
        jobs[0].job_id,
    ]
    both = client.get(f"{JOBS}?created_after={after}&created_before={before}")
    assert ids(both) == [jobs[2].job_id, jobs[1].job_id]
    # A Z suffix and a time-zone offset mean the same instant.
    stamp = (BASE + timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert ids(client.get(f"{JOBS}?created_after={stamp}")) == [jobs[3].job_id]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("status=done", "status"),
        ("status=QUEUED", "status"),
        ("created_after=yesterday", "created_after"),
        ("created_before=2026-13-45T00:00:00Z", "created_before"),
        ("created_after=99999-01-01T00:00:00Z", "created_after"),
        ("created_after=2026-01-01T00:00:00%2B99:00", "created_after"),
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=ten", "limit"),
        ("cursor=not-a-cursor", "cursor"),
    ],
)
def test_bad_filters_are_400_invalid_request_with_fields(mine, query, field):
    key, client = mine
    submit(key)

    response = client.get(f"{JOBS}?{query}")

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    assert field in error["fields"]


@pytest.mark.parametrize("query", ["status=%00", "created_after=%00", "status=" + "x" * 5000])
def test_odd_query_values_never_500(mine, query):
    response = mine[1].get(f"{JOBS}?{query}")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_request"


def test_a_key_without_jobs_read_is_refused(org, make_key, client_for):
    key, plaintext = make_key(org, permissions=["jobs:write"])
    submit(key)

    response = client_for(plaintext).get(JOBS)

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "insufficient_permissions"


def test_a_page_costs_the_same_queries_whatever_its_size(mine):
    key, client = mine
    submit(key)
    client.get(JOBS)  # warm: the key's last use is written once a minute
    with CaptureQueriesContext(connection) as one:
        assert len(client.get(JOBS).json()["results"]) == 1
    for h in range(1, 15):
        submit(key, hours=h)
    with CaptureQueriesContext(connection) as many:
        assert len(client.get(JOBS).json()["results"]) == 15

    assert len(many) == len(one)
