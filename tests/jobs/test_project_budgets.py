"""A project's monthly spend limit, enforced at reservation next to the key's and the
organization's, race-safe on PostgreSQL; jobs and their ledger rows carry the project."""

import threading
from collections import Counter

import pytest
from django.db import connection
from django.db.models import Sum
from rest_framework.test import APIClient

from accounts.models import Project
from accounts.projects.selectors import project_default
from accounts.projects.services import project_create, project_update
from billing.models import LedgerEntry
from billing.selectors import credits_balance
from billing.services import credits_spend_limit_set
from jobs.models import Job
from jobs.tasks import run_job
from tests.helpers import SYSTEM, bearer, requires_postgres

# gpt-4o, "p", max_tokens 1000: 5 credits reserved each.
FIVE = {"prompt": "p", "options": {"model": "gpt-4o", "max_tokens": 1000}}


def generate(client, body=None):
    return client.post("/api/v1/generate", body or FIVE, format="json")


def code(response):
    return response.json()["error"]["code"]


def snapshot(org):
    return (
        Job.objects.filter(organization=org).count(),
        LedgerEntry.objects.filter(account__organization=org).count(),
        credits_balance(organization=org),
        list(Project.objects.filter(organization=org).values_list("spend_month", flat=True)),
    )


@pytest.fixture
def web(org):
    return project_create(organization=org, name="Web", monthly_spend_limit=12, actor=SYSTEM)


def test_submission_past_the_projects_limit_is_402_and_writes_nothing(
    org, web, make_key, client_for
):
    _, first = make_key(org, project=web)
    _, second = make_key(org, project=web)
    assert generate(client_for(first)).status_code == 202
    assert generate(client_for(second)).status_code == 202  # 10 of 12, two keys
    before = snapshot(org)

    refused = generate(client_for(first))

    assert (refused.status_code, code(refused)) == (402, "project_spend_limit_reached")
    assert snapshot(org) == before
    assert generate(client_for(second), {"prompt": "p"}).status_code == 202  # 1 more fits


def test_another_projects_spend_does_not_count(org, web, make_key, client_for):
    _, in_web = make_key(org, project=web)
    _, in_default = make_key(org)
    assert generate(client_for(in_web)).status_code == 202
    assert generate(client_for(in_web)).status_code == 202
    for _ in range(3):
        assert generate(client_for(in_default)).status_code == 202


def test_the_key_the_project_and_the_organization_limits_hold_at_once(
    org, web, make_key, client_for
):
    credits_spend_limit_set(organization=org, monthly_limit=20, actor=SYSTEM)
    project_update(project=web, actor=SYSTEM, monthly_spend_limit=15)
    _, limited = make_key(org, project=web, spend_limit_credits=5)
    _, open_key = make_key(org, project=web)
    _, default_key = make_key(org)

    assert generate(client_for(limited)).status_code == 202  # key 5/5, web 5/15, org 5/20
    assert code(generate(client_for(limited))) == "spend_limit_reached"
    assert generate(client_for(open_key)).status_code == 202  # web 10/15
    assert generate(client_for(open_key)).status_code == 202  # web 15/15
    assert code(generate(client_for(open_key))) == "project_spend_limit_reached"
    assert generate(client_for(default_key)).status_code == 202  # org 20/20
    assert code(generate(client_for(default_key))) == "org_spend_limit_reached"
    assert project_default(organization=org).spend_month == 5
    assert Project.objects.get(pk=web.pk).spend_month == 15


def test_the_projects_limit_counts_charges_once_jobs_finish(org, web, make_key, client_for):
    project_update(project=web, actor=SYSTEM, monthly_spend_limit=6)
    _, plaintext = make_key(org, project=web)
    client = client_for(plaintext)
    first = generate(client).json()["job_id"]
    assert code(generate(client)) == "project_spend_limit_reached"  # 5 held + 5 > 6

    run_job(first)  # charged 1 of its 5

    assert Project.objects.get(pk=web.pk).spend_month == 1
    assert generate(client).status_code == 202


def test_a_moved_key_leaves_its_jobs_spend_in_the_old_project(org, web, make_key, client_for):
    from apikeys.keys.services import apikey_update

    key, plaintext = make_key(org, project=web)
    job_id = generate(client_for(plaintext)).json()["job_id"]
    apikey_update(key=key, actor=SYSTEM, project=project_default(organization=org))
    run_job(job_id)
    job = Job.objects.get(job_id=job_id)
    assert job.project_id == web.project_id
    assert Project.objects.get(pk=web.pk).spend_month == job.credits_charged
    assert project_default(organization=org).spend_month == 0


def test_jobs_and_their_ledger_rows_carry_the_project(org, web, make_key, client_for):
    _, plaintext = make_key(org, project=web)
    client = client_for(plaintext)
    job_id = generate(client).json()["job_id"]
    run_job(job_id)
    job = Job.objects.get(job_id=job_id)
    assert job.project_id == web.project_id
    rows = LedgerEntry.objects.filter(job=job)
    assert sorted(rows.values_list("kind", "project_id")) == [
        ("capture", web.project_id),
        ("reserve", web.project_id),
    ]
    status = client.get(f"/api/v1/status/{job_id}").json()
    assert status["project"] == web.project_id


# --- PostgreSQL: 40 generates at once -----------------------------------------------------------

CONCURRENT = 40


@requires_postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_forty_concurrent_generates_never_pass_the_projects_limit(make_org, make_key, settings):
    settings.APIKEYS_RATE_LIMITS_ENABLED = False
    org = make_org(credits=10_000)
    web = project_create(organization=org, name="Web", monthly_spend_limit=52, actor=SYSTEM)
    plaintexts = [make_key(org, project=web)[1] for _ in range(4)]
    _, outsider = make_key(org)  # the Default project: no project limit
    barrier = threading.Barrier(CONCURRENT)
    outcomes, lock = [], threading.Lock()

    def submit(n: int):
        client = APIClient()
        # Every fifth thread submits from the Default project, which the limit does not touch.
        plaintext = outsider if n % 5 == 4 else plaintexts[n % 4]
        client.credentials(HTTP_AUTHORIZATION=bearer(plaintext))
        try:
            barrier.wait(timeout=30)
            response = generate(client)
            error = code(response) if response.status_code != 202 else ""
            with lock:
                outcomes.append((plaintext == outsider, response.status_code, error))
        finally:
            connection.close()

    threads = [threading.Thread(target=submit, args=(n,)) for n in range(CONCURRENT)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)

    assert Counter(outcomes) == {
        (False, 202, ""): 10,  # 10 × 5 = 50 <= 52
        (False, 402, "project_spend_limit_reached"): 22,
        (True, 202, ""): 8,
    }
    web_jobs = Job.objects.filter(project=web)
    assert web_jobs.aggregate(s=Sum("credits_reserved"))["s"] == 50
    assert Project.objects.get(pk=web.pk).spend_month == 50
    ledger = LedgerEntry.objects.filter(account__organization=org)
    assert ledger.aggregate(s=Sum("amount"))["s"] == credits_balance(organization=org)
    assert ledger.filter(kind="reserve", project=web).count() == 10


@requires_postgres
def test_a_generate_in_a_project_with_a_limit_is_still_one_statement(org, web, make_key):
    """The project's check and counter join the submission's one statement (PostgreSQL)."""
    from django.test.utils import CaptureQueriesContext

    from jobs.services import job_submit

    key, _ = make_key(org, project=web, spend_limit_credits=100)
    job_submit(key=key, prompt="warm the price cache")
    with CaptureQueriesContext(connection) as captured:
        job_submit(key=key, prompt="p")
    statements = [
        q["sql"] for q in captured.captured_queries if "SAVEPOINT" not in q["sql"].upper()
    ]
    # The caps, the job, the ledger and django-q2's queue row: one prepared statement.
    assert len(statements) == 1, statements
    assert statements[0].startswith("EXECUTE perceptis_job_submit"), statements
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT statement FROM pg_prepared_statements WHERE name LIKE 'perceptis_job_submit%'"
        )
        [(prepared,)] = cursor.fetchall()
    assert f"UPDATE {Project._meta.db_table} SET" in prepared
    assert f"INSERT INTO {Job._meta.db_table}" in prepared
