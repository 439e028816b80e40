"""Each plan caps an organization's queued plus running jobs."""

from accounts.models import Plan
from billing.models import LedgerEntry
from billing.selectors import credits_balance
from jobs.models import Job
from jobs.services import job_cancel
from jobs.tasks import run_job
from tests.helpers import SYSTEM


def generate(client, body=None):
    return client.post("/api/v1/generate", body or {"prompt": "p"}, format="json")


def set_cap(org, cap: int):
    Plan.objects.filter(pk=org.plan_id).update(max_jobs_in_flight=cap)


def snapshot(org):
    return (
        Job.objects.filter(organization=org).count(),
        LedgerEntry.objects.filter(account__organization=org).count(),
        credits_balance(organization=org),
    )


def test_plans_cap_jobs_in_flight(org):
    assert org.plan.max_jobs_in_flight == 20
    assert Plan.objects.get(code="enterprise").max_jobs_in_flight == 200


def test_one_job_past_the_cap_is_429_with_retry_after_and_writes_nothing(org, live_key, client_for):
    _key, plaintext = live_key
    client = client_for(plaintext)
    assert {generate(client).status_code for _ in range(20)} == {202}
    before = snapshot(org)

    refused = generate(client)

    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "too_many_jobs_in_flight"
    assert int(refused["Retry-After"]) >= 1
    assert "RateLimit-Limit" in refused
    assert snapshot(org) == before


def test_a_finished_job_frees_its_slot(org, live_key, client_for):
    set_cap(org, 2)
    _key, plaintext = live_key
    client = client_for(plaintext)
    first = generate(client).json()["job_id"]
    second = generate(client).json()["job_id"]
    assert generate(client).status_code == 429

    run_job(first)
    job_cancel(job=Job.objects.get(job_id=second), actor=SYSTEM)

    assert generate(client).status_code == 202
    assert generate(client).status_code == 202
    assert generate(client).status_code == 429


def test_running_and_test_key_jobs_count_too(org, live_key, make_key, client_for):
    set_cap(org, 2)
    _key, live = live_key
    _key, test = make_key(org, type="test")
    job_id = generate(client_for(live)).json()["job_id"]
    Job.objects.filter(job_id=job_id).update(status=Job.Status.RUNNING)
    assert generate(client_for(test)).status_code == 202

    assert generate(client_for(live)).json()["error"]["code"] == "too_many_jobs_in_flight"
    assert generate(client_for(test)).json()["error"]["code"] == "too_many_jobs_in_flight"


def test_another_organizations_jobs_do_not_count(make_org, make_key, client_for):
    org, other = make_org(), make_org()
    set_cap(org, 1)  # the plan's cap, so both organizations have it
    _key, mine = make_key(org)
    _key, theirs = make_key(other)
    assert generate(client_for(theirs)).status_code == 202

    assert generate(client_for(mine)).status_code == 202
    assert generate(client_for(mine)).status_code == 429
    assert generate(client_for(theirs)).status_code == 429


def test_the_cap_comes_before_insufficient_credits(make_org, make_key, client_for):
    org = make_org(credits=1)
    set_cap(org, 1)
    _key, plaintext = make_key(org)
    client = client_for(plaintext)
    assert generate(client).status_code == 202  # the last credit

    assert generate(client).json()["error"]["code"] == "too_many_jobs_in_flight"


def test_model_not_available_comes_before_the_cap(org, live_key, client_for):
    set_cap(org, 0)
    _key, plaintext = live_key

    response = generate(client_for(plaintext), {"prompt": "p", "options": {"model": "nope"}})

    assert response.json()["error"]["code"] == "model_not_available"


def test_idempotent_replay_at_the_cap_still_returns_the_job(org, live_key, client_for):
    set_cap(org, 1)
    _key, plaintext = live_key
    client = client_for(plaintext)
    first = client.post(
        "/api/v1/generate", {"prompt": "p"}, format="json", HTTP_IDEMPOTENCY_KEY="a"
    )

    again = client.post(
        "/api/v1/generate", {"prompt": "p"}, format="json", HTTP_IDEMPOTENCY_KEY="a"
    )

    assert again.status_code == 202
    assert again.json()["job_id"] == first.json()["job_id"]
