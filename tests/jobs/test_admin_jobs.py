"""Support works on jobs in admin: read the record, retry a failed job, cancel a queued or
running one."""

import pytest

from accounts.models import AuditEvent
from billing.selectors import credits_balance
from jobs.models import Job
from jobs.services import job_claim, job_fail, job_submit, job_succeed
from tests.helpers import SCAN

JOBS = "/admin/jobs/job/"


@pytest.fixture
def queued_job(live_key):
    key, _ = live_key
    return job_submit(key=key, prompt="a lighthouse at dusk", options={"size": "small"}).job


@pytest.fixture
def failed_job(queued_job):
    job = job_claim(job_id=queued_job.job_id)
    job_fail(job=job, code="engine_error", message="The engine timed out.")
    job.refresh_from_db()
    return job


def test_job_list_shows_status_organization_key_and_credits(support, queued_job):
    response = support.get(JOBS)
    assert response.status_code == 200
    html = response.content.decode()
    for text in (queued_job.job_id, queued_job.api_key.key_id, queued_job.organization.name):
        assert text in html
    assert list(response.context["cl"].result_list) == [queued_job]


def test_job_list_filters_by_status_and_finds_by_job_or_key_id(support, queued_job, make_key):
    other_key, _ = make_key(queued_job.organization)
    other = job_submit(key=other_key, prompt="other").job
    assert list(support.get(JOBS, {"status__exact": "queued"}).context["cl"].result_list) == [
        other,
        queued_job,
    ]
    assert list(support.get(JOBS, {"status__exact": "failed"}).context["cl"].result_list) == []
    for q in (queued_job.job_id, queued_job.api_key.key_id):
        assert list(support.get(JOBS, {"q": q}).context["cl"].result_list) == [queued_job]


def test_job_detail_is_read_only_with_input_result_and_error(support, failed_job):
    response = support.get(f"{JOBS}{failed_job.pk}/change/")
    assert response.status_code == 200
    html = response.content.decode()
    for text in ("a lighthouse at dusk", "small", "engine_error", "The engine timed out."):
        assert text in html
    assert b'name="_save"' not in response.content
    edit = support.post(f"{JOBS}{failed_job.pk}/change/", {"prompt": "changed"})
    assert edit.status_code == 403


def test_support_retries_a_failed_job(support, support_user, failed_job, run_action):
    response = run_action(support, JOBS, "retry_jobs", [failed_job])
    assert response.status_code == 302
    failed_job.refresh_from_db()
    assert failed_job.status == Job.Status.QUEUED
    assert failed_job.attempts == 0
    assert failed_job.error_code == ""
    event = AuditEvent.objects.get(action="job.retried", target_id=failed_job.job_id)
    assert event.actor_user == support_user


def test_support_cancels_a_queued_job_and_its_credits_come_back(
    support, support_user, queued_job, run_action
):
    org = queued_job.organization
    before = credits_balance(organization=org)
    assert queued_job.credits_reserved > 0
    run_action(support, JOBS, "cancel_jobs", [queued_job])
    queued_job.refresh_from_db()
    assert queued_job.status == Job.Status.CANCELED
    assert credits_balance(organization=org) == before + queued_job.credits_reserved
    event = AuditEvent.objects.get(action="job.canceled", target_id=queued_job.job_id)
    assert event.actor_user == support_user


def test_support_cancel_of_a_running_job_asks_its_worker_to_stop(
    support, support_user, queued_job, run_action
):
    running = job_claim(job_id=queued_job.job_id)
    run_action(support, JOBS, "cancel_jobs", [running])
    running.refresh_from_db()
    assert running.status == Job.Status.RUNNING
    assert running.cancel_requested
    event = AuditEvent.objects.get(action="job.cancel_requested", target_id=running.job_id)
    assert event.actor_user == support_user


def test_retry_and_cancel_refuse_jobs_in_the_wrong_state(support, queued_job, run_action):
    running = job_claim(job_id=queued_job.job_id)
    job_succeed(job=running, result={"text": "done"})
    run_action(support, JOBS, "cancel_jobs", [running])
    run_action(support, JOBS, "retry_jobs", [running])
    running.refresh_from_db()
    assert running.status == Job.Status.SUCCEEDED
    assert not running.cancel_requested
    page = support.get(JOBS).content.decode()
    assert f"Not changed: {running.job_id}. The job has already succeeded." in page
    assert f"Not changed: {running.job_id}. Only failed jobs can be retried." in page
    assert not AuditEvent.objects.filter(
        action__in=["job.canceled", "job.cancel_requested", "job.retried"]
    ).exists()


def test_staff_without_the_group_cannot_see_or_change_jobs(bare, queued_job, run_action):
    assert bare.get(JOBS).status_code == 403
    assert run_action(bare, JOBS, "cancel_jobs", [queued_job]).status_code == 403
    queued_job.refresh_from_db()
    assert queued_job.status == Job.Status.QUEUED


def _searched(support, url, term):
    """The rows a search finds, and the SQL it ran against the table searched."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        response = support.get(url, {"q": term})
    assert response.status_code == 200
    return list(response.context["cl"].result_list), [q["sql"] for q in captured]


def test_search_finds_jobs_by_job_id_key_id_organization_name_or_slug(
    support, queued_job, make_org, make_key
):
    elsewhere = make_org(name="Globex Research")
    other_key, _ = make_key(elsewhere)
    other = job_submit(key=other_key, prompt="elsewhere").job
    org = queued_job.organization
    for term, expected in (
        (queued_job.job_id, [queued_job]),
        (f"  {other.job_id} ", [other]),
        (queued_job.api_key.key_id, [queued_job]),
        (other_key.key_id, [other]),
        ("globex", [other]),
        (org.name.lower(), [queued_job]),
        (org.slug, [queued_job]),
        ("job_doesnotexistanywhere000000000", []),
        ("key_nosuchkey0000000", []),
    ):
        found, _ = _searched(support, JOBS, term)
        assert found == expected, term


def test_a_search_by_id_is_an_exact_comparison_an_index_answers(support, queued_job):
    """Django's own search compares UPPER(column) in one OR of every field: a scan of the table."""
    for term in (queued_job.job_id, queued_job.api_key.key_id, "acme"):
        _, sqls = _searched(support, JOBS, term)
        searched = [sql for sql in sqls if 'FROM "jobs_job"' in sql]
        assert searched, term
        assert not any(SCAN.search(sql) for sql in searched), (term, searched)
    _, sqls = _searched(support, JOBS, queued_job.job_id)
    assert any('"jobs_job"."job_id" = ' in sql for sql in sqls)
