"""Test keys are a sandbox: the offline engine, watermarked and free, under a shared daily quota."""

from accounts.models import Plan
from apikeys.keys.services import apikey_revoke
from billing.models import LedgerEntry
from billing.selectors import credits_balance
from jobs.engines import WATERMARK
from jobs.models import Job
from jobs.tasks import run_job
from tests.helpers import SYSTEM


def generate(client, body):
    return client.post("/api/v1/generate", body, format="json")


def test_test_key_job_never_calls_the_configured_engine(
    openai_settings, fake, org, make_key, client_for
):
    _key, plaintext = make_key(org, type="test")
    client = client_for(plaintext)
    before = credits_balance(organization=org)

    body = generate(
        client, {"prompt": "write a novel", "options": {"model": "gpt-4o", "max_tokens": 16384}}
    ).json()
    assert run_job(body["job_id"]) == Job.Status.SUCCEEDED
    done = client.get(f"/api/v1/status/{body['job_id']}").json()

    assert fake.requests == []
    assert done["test"] is True
    assert done["result"]["text"].startswith(WATERMARK)
    assert done["result"]["watermark"] is True
    assert done["credits_reserved"] == done["credits_charged"] == 0
    assert done["usage"]["output_tokens"] >= 1  # the offline engine reports tokens too
    assert credits_balance(organization=org) == before
    assert not LedgerEntry.objects.filter(job__job_id=body["job_id"]).exists()


def test_live_key_job_calls_the_configured_engine_exactly_once(
    openai_settings, fake, org, live_key, client_for
):
    _key, plaintext = live_key
    body = generate(client_for(plaintext), {"prompt": "write a haiku"}).json()

    assert run_job(body["job_id"]) == Job.Status.SUCCEEDED

    assert len(fake.requests) == 1
    assert Job.objects.get(job_id=body["job_id"]).result["text"] == "Hello from the fake server"


def test_test_key_job_works_in_an_organization_without_credits(
    openai_settings, fake, make_org, make_key, client_for
):
    org = make_org(credits=0)
    _key, plaintext = make_key(org, type="test")

    response = generate(client_for(plaintext), {"prompt": "p"})

    assert response.status_code == 202
    assert run_job(response.json()["job_id"]) == Job.Status.SUCCEEDED
    assert fake.requests == []


def _set_org_test_quota(org, quota: int):
    Plan.objects.filter(pk=org.plan_id).update(test_daily_quota=quota)


def test_test_keys_share_the_organizations_daily_quota(org, make_key, client_for, settings):
    settings.APIKEYS_TEST_DAILY_QUOTA = 100
    _set_org_test_quota(org, 3)
    _, first = make_key(org, type="test")
    _, second = make_key(org, type="test")

    assert [generate(client_for(first), {"prompt": "p"}).status_code for _ in range(2)] == [202] * 2
    assert generate(client_for(second), {"prompt": "p"}).status_code == 202
    jobs = Job.objects.filter(organization=org).count()
    refused = generate(client_for(second), {"prompt": "p"})

    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "daily_quota_exceeded"
    assert int(refused["Retry-After"]) >= 1
    assert Job.objects.filter(organization=org).count() == jobs


def test_minting_and_revoking_test_keys_buys_no_extra_requests(org, make_key, client_for):
    _set_org_test_quota(org, 2)
    key, plaintext = make_key(org, type="test")
    assert generate(client_for(plaintext), {"prompt": "p"}).status_code == 202
    assert generate(client_for(plaintext), {"prompt": "p"}).status_code == 202
    apikey_revoke(key=key, actor=SYSTEM)

    _, fresh = make_key(org, type="test")
    refused = generate(client_for(fresh), {"prompt": "p"})

    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "daily_quota_exceeded"


def test_another_organizations_test_keys_do_not_use_this_ones_quota(make_org, make_key, client_for):
    org, other = make_org(), make_org()
    _set_org_test_quota(org, 1)
    _, mine = make_key(org, type="test")
    _, theirs = make_key(other, type="test")

    assert generate(client_for(mine), {"prompt": "p"}).status_code == 202
    assert generate(client_for(theirs), {"prompt": "p"}).status_code == 202
    assert generate(client_for(mine), {"prompt": "p"}).status_code == 429


def test_live_keys_do_not_count_toward_the_test_quota(org, make_key, live_key, client_for):
    _set_org_test_quota(org, 1)
    _, live = live_key
    _, test = make_key(org, type="test")

    for _ in range(3):
        assert generate(client_for(live), {"prompt": "p"}).status_code == 202
    assert generate(client_for(test), {"prompt": "p"}).status_code == 202


def test_business_plan_allows_1000_test_requests_a_day(org):
    assert org.plan.test_daily_quota == 1000
    assert Plan.objects.get(code="enterprise").test_daily_quota == 10000
