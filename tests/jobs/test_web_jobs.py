"""The Jobs page of Developer Settings: the organization's jobs for everyone in it, filters,
one job's record, and canceling for owners and admins only."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import AuditEvent, Membership
from billing.models import LedgerEntry
from billing.selectors import credits_balance
from jobs.models import Job
from jobs.services import job_claim, job_run, job_submit

JOBS = "/settings/developer/jobs/"
BASE = timezone.now().replace(second=0, microsecond=0) - timedelta(days=2)


def job_url(job) -> str:
    return f"{JOBS}{job.job_id}/"


def cancel_url(job) -> str:
    return f"{JOBS}{job.job_id}/cancel/"


def submit(key, *, hours=0, prompt="a page of jobs", **options) -> Job:
    job = job_submit(key=key, prompt=prompt, options=options).job
    Job.objects.filter(pk=job.pk).update(created_at=BASE + timedelta(hours=hours))
    job.refresh_from_db()
    return job


def listed(response) -> list[str]:
    return [job.job_id for job in response.context["page"].object_list]


def snapshot(org) -> dict:
    return {
        "jobs": list(Job.objects.filter(organization=org).order_by("id").values()),
        "ledger": LedgerEntry.objects.count(),
        "audit": AuditEvent.objects.count(),
        "balance": credits_balance(organization=org),
    }


@pytest.fixture
def keys(org, make_key):
    return make_key(org, name="Backend")[0], make_key(org, name="Batch")[0]


@pytest.fixture
def admin_web(org, make_user, signed_in):
    user = make_user(org, role=Membership.Role.ADMIN)
    return user, signed_in(user)


@pytest.fixture
def member_web(member, signed_in):
    return signed_in(member)


def test_everyone_sees_the_organizations_jobs_newest_first(
    web, member_web, keys, make_org, make_key
):
    backend, batch = keys
    old = submit(backend, hours=1)
    new = submit(batch, hours=2)
    submit(make_key(make_org())[0], hours=3)

    for client in (web, member_web):
        response = client.get(JOBS)
        assert response.status_code == 200
        assert listed(response) == [new.job_id, old.job_id]
    html = web.get(JOBS).content.decode()
    assert "Backend" in html and backend.key_id in html and "Batch" in html
    assert f'href="{JOBS}"' in web.get("/settings/developer/").content.decode()  # in the tabs


def test_filters_by_key_status_and_time(web, keys):
    backend, batch = keys
    first = submit(backend, hours=1)
    second = submit(batch, hours=2)
    third = submit(backend, hours=3)
    job_run(job_id=third.job_id)

    def filtered(**query):
        response = web.get(JOBS, query)
        assert response.status_code == 200
        return listed(response)

    assert filtered(key=backend.key_id) == [third.job_id, first.job_id]
    assert filtered(status="succeeded") == [third.job_id]
    assert filtered(status="queued", key=backend.key_id) == [first.job_id]
    stamp = (BASE + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")
    assert filtered(created_after=stamp) == [third.job_id, second.job_id]
    assert filtered(created_before=stamp) == [second.job_id, first.job_id]


@pytest.mark.parametrize(
    "query",
    [{"status": "nope"}, {"key": "key_of_nobody"}, {"created_after": "soon"}, {"page": "x"}],
)
def test_a_bad_filter_says_so_and_lists_unfiltered(web, keys, query):
    job = submit(keys[0])

    response = web.get(JOBS, query)

    assert response.status_code == 200
    assert bool(response.context["form"].errors) == ("page" not in query)
    assert listed(response) == [job.job_id]


def test_control_characters_in_the_query_are_400_not_500(web):
    assert web.get(JOBS, {"status": "\x00"}).status_code == 400


def test_another_organizations_key_is_not_a_filter(web, keys, make_org, make_key):
    stranger = make_key(make_org())[0]
    submit(stranger)

    response = web.get(JOBS, {"key": stranger.key_id})

    assert response.context["form"].errors
    assert listed(response) == []


def test_the_list_is_paginated(web, keys):
    for h in range(55):
        job_run(job_id=submit(keys[0], hours=h).job_id)  # finished: no in-flight cap

    first = web.get(JOBS)
    second = web.get(JOBS, {"page": 2})

    assert len(listed(first)) == 50 and len(listed(second)) == 5
    assert not set(listed(first)) & set(listed(second))


def test_a_jobs_page_shows_its_record_and_never_a_secret(org, make_key, web):
    key, plaintext = make_key(org, name="Nightly")
    job = submit(key, prompt="describe <b>the sea</b>", model="gpt-4o", max_tokens=50)
    job_run(job_id=job.job_id)
    job.refresh_from_db()

    response = web.get(job_url(job))

    assert response.status_code == 200
    html = response.content.decode()
    for text in (
        job.job_id,
        "Nightly",
        key.key_id,
        "gpt-4o",
        "describe &lt;b&gt;the sea&lt;/b&gt;",  # escaped, never markup
        "&quot;max_tokens&quot;: 50",
        job.result["text"].replace("<", "&lt;").replace(">", "&gt;"),
        "Attempts",
        "Credits reserved",
        "Credits charged",
        "Started",
        "Finished",
    ):
        assert text in html, text
    assert plaintext not in html
    assert "Cancel job" not in html  # it has finished


def test_a_failed_jobs_page_shows_the_error(web, keys):
    job = submit(keys[0], simulate_error="fatal")
    job_run(job_id=job.job_id)

    html = web.get(job_url(job)).content.decode()

    assert "generation_failed" in html and "Simulated failure." in html


@pytest.mark.parametrize("method", ["get", "post"])
def test_another_organizations_job_is_404(web, make_org, make_key, method):
    other_org = make_org()
    job = submit(make_key(other_org)[0])
    before = snapshot(other_org)

    url = job_url(job) if method == "get" else cancel_url(job)
    assert getattr(web, method)(url).status_code == 404
    assert snapshot(other_org) == before


@pytest.mark.parametrize("job_id", ["job_" + "x" * 3000, "j%C3%B6b", "job_%00", "%F0%9F%92%A5"])
def test_odd_job_ids_are_404(web, job_id):
    assert web.get(f"{JOBS}{job_id}/").status_code == 404
    assert web.post(f"{JOBS}{job_id}/cancel/").status_code == 404


def test_an_owner_cancels_a_queued_job_and_its_credits_come_back(org, owner, web, keys):
    before = credits_balance(organization=org)
    job = submit(keys[0])
    assert f'action="{cancel_url(job)}"' in web.get(job_url(job)).content.decode()

    response = web.post(cancel_url(job), follow=True)

    assert response.redirect_chain[-1][0] == job_url(job)
    assert "was canceled" in response.content.decode()
    job.refresh_from_db()
    assert job.status == Job.Status.CANCELED
    # What the API client reads names no person; the audit row does.
    assert job.error == {"code": "canceled", "message": "Canceled in Developer Settings."}
    assert credits_balance(organization=org) == before
    event = AuditEvent.objects.get(action="job.canceled", target_id=job.job_id)
    assert (event.actor_user, event.actor_key) == (owner, None)


def test_an_admin_asks_a_running_job_to_stop(admin_web, keys):
    user, client = admin_web
    job = submit(keys[0])
    job_claim(job_id=job.job_id)

    response = client.post(cancel_url(job), follow=True)

    html = response.content.decode()
    assert "Cancel requested" in html
    assert "cancel requested" in html  # beside the status
    assert "Cancel job" not in html  # asked once is enough
    job.refresh_from_db()
    assert (job.status, job.cancel_requested) == (Job.Status.RUNNING, True)
    event = AuditEvent.objects.get(action="job.cancel_requested", target_id=job.job_id)
    assert event.actor_user == user


def test_canceling_a_finished_job_says_so_and_writes_nothing(org, web, keys):
    job = submit(keys[0])
    job_run(job_id=job.job_id)
    before = snapshot(org)

    response = web.post(cancel_url(job), follow=True)

    assert "already succeeded" in response.content.decode()
    assert snapshot(org) == before


def test_a_member_reads_but_cannot_cancel(org, member_web, keys):
    job = submit(keys[0])
    page = member_web.get(job_url(job))
    assert page.status_code == 200
    assert "Cancel job" not in page.content.decode()
    before = snapshot(org)

    assert member_web.post(cancel_url(job)).status_code == 403
    assert snapshot(org) == before


def test_a_cancel_without_the_csrf_token_is_refused(org, owner, keys):
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    job = submit(keys[0])
    before = snapshot(org)

    assert client.post(cancel_url(job)).status_code == 403
    assert snapshot(org) == before


def test_signed_out_visitors_are_sent_to_sign_in(keys):
    job = submit(keys[0])
    for response in (Client().get(JOBS), Client().post(cancel_url(job))):
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")
    assert Job.objects.get(pk=job.pk).status == Job.Status.QUEUED


def test_the_list_costs_the_same_queries_whatever_its_length(web, keys):
    submit(keys[0])
    web.get(JOBS)
    with CaptureQueriesContext(connection) as one:
        web.get(JOBS)
    for h in range(1, 20):
        job_run(job_id=submit(keys[h % 2], hours=h).job_id)
    with CaptureQueriesContext(connection) as many:
        web.get(JOBS)

    assert len(many) == len(one)
