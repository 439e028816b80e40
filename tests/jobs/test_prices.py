"""Models and prices: what a job may ask for, what it reserves and what it is charged."""

import math
from decimal import Decimal

import pytest
from django.db.models import Sum

from accounts.models import AuditEvent
from billing.models import LedgerEntry, ModelPrice
from billing.prices import estimated_input_tokens
from billing.selectors import credits_balance
from jobs.models import Job
from jobs.services import job_submit
from jobs.tasks import run_job
from tests.helpers import completion, enable_totp


def generate(client, body, **headers):
    return client.post("/api/v1/generate", body, format="json", **headers)


def reservation(model: str, prompt: str, max_tokens: int) -> int:
    price = ModelPrice.objects.get(model=model)
    exact = (
        Decimal(estimated_input_tokens(prompt)) * price.input_credits_per_1k_tokens
        + Decimal(max_tokens) * price.output_credits_per_1k_tokens
    ) / 1000
    return max(1, math.ceil(exact))


def assert_nothing_written(org, jobs_before: int, ledger_before: int, balance_before: int):
    assert Job.objects.filter(organization=org).count() == jobs_before
    assert LedgerEntry.objects.filter(account__organization=org).count() == ledger_before
    assert credits_balance(organization=org) == balance_before


def snapshot(org):
    return (
        Job.objects.filter(organization=org).count(),
        LedgerEntry.objects.filter(account__organization=org).count(),
        credits_balance(organization=org),
    )


# --- GET /api/v1/models ---------------------------------------------------------------------


def test_models_lists_the_plans_models_with_prices(org, make_key, client_for):
    _key, plaintext = make_key(org, permissions=["usage:read"])  # any authenticated key

    response = client_for(plaintext).get("/api/v1/models")

    assert response.status_code == 200
    body = response.json()
    assert body["next"] is None
    by_id = {entry["id"]: entry for entry in body["results"]}
    assert set(by_id) == {"gpt-4o-mini", "gpt-4o"}  # o1 is Enterprise only
    assert by_id["gpt-4o"] == {
        "id": "gpt-4o",
        "input_credits_per_1k_tokens": 1.0,
        "output_credits_per_1k_tokens": 4.0,
        "max_output_tokens": 16384,
    }


def test_enterprise_sees_its_extra_model(make_org, make_key, client_for):
    org = make_org(plan="enterprise")
    _key, plaintext = make_key(org)

    ids = [m["id"] for m in client_for(plaintext).get("/api/v1/models").json()["results"]]

    assert "o1" in ids


def test_models_needs_a_key(api):
    response = api.get("/api/v1/models")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "missing_api_key"


# --- model and max_tokens on submission -----------------------------------------------------


def test_default_model_and_max_tokens_come_from_the_plan_and_model(org, live_key, client_for):
    _key, plaintext = live_key
    prompt = "a red fox"

    body = generate(client_for(plaintext), {"prompt": prompt}).json()

    assert body["model"] == "gpt-4o-mini"
    assert body["usage"] is None
    assert body["credits_reserved"] == reservation("gpt-4o-mini", prompt, 4096)
    assert Job.objects.get(job_id=body["job_id"]).max_tokens == 4096


def test_a_larger_max_tokens_reserves_more(org, live_key, client_for):
    _key, plaintext = live_key
    client = client_for(plaintext)
    before = credits_balance(organization=org)

    small = generate(client, {"prompt": "p", "options": {"model": "gpt-4o", "max_tokens": 1000}})
    large = generate(client, {"prompt": "p", "options": {"model": "gpt-4o", "max_tokens": 5000}})

    small_reserved = small.json()["credits_reserved"]
    large_reserved = large.json()["credits_reserved"]
    assert small_reserved == reservation("gpt-4o", "p", 1000) == 5
    assert large_reserved == reservation("gpt-4o", "p", 5000) == 21
    assert credits_balance(organization=org) == before - small_reserved - large_reserved


@pytest.mark.parametrize("model", ["o1-pro", "GPT-4O", "gpt-4o ", "../etc", "x" * 5000])
def test_unknown_model_is_model_not_available_and_writes_nothing(org, live_key, client_for, model):
    _key, plaintext = live_key
    before = snapshot(org)

    response = generate(client_for(plaintext), {"prompt": "p", "options": {"model": model}})

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "model_not_available"
    assert_nothing_written(org, *before)


def test_model_of_another_plan_is_model_not_available(org, live_key, client_for):
    _key, plaintext = live_key
    before = snapshot(org)

    response = generate(client_for(plaintext), {"prompt": "p", "options": {"model": "o1"}})

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "model_not_available"
    assert_nothing_written(org, *before)


def test_test_key_cannot_use_a_model_the_plan_may_not_use(org, make_key, client_for):
    _key, plaintext = make_key(org, type="test")
    before = snapshot(org)

    response = generate(client_for(plaintext), {"prompt": "p", "options": {"model": "o1"}})

    assert response.json()["error"]["code"] == "model_not_available"
    assert_nothing_written(org, *before)


def test_max_tokens_above_the_models_maximum_is_invalid_request(org, live_key, client_for):
    _key, plaintext = live_key
    before = snapshot(org)

    response = generate(
        client_for(plaintext),
        {"prompt": "write a novel", "options": {"model": "gpt-4o", "max_tokens": 1_000_000}},
    )

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    assert "options.max_tokens" in error["fields"]
    assert_nothing_written(org, *before)


@pytest.mark.parametrize("max_tokens", [-1, 0, 1.5, 100.0, True, False, "100", [100], {"n": 1}])
def test_malformed_max_tokens_is_invalid_request(org, live_key, client_for, max_tokens):
    _key, plaintext = live_key
    before = snapshot(org)

    response = generate(
        client_for(plaintext), {"prompt": "p", "options": {"max_tokens": max_tokens}}
    )

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    assert list(error["fields"]) == ["options.max_tokens"]
    assert_nothing_written(org, *before)


@pytest.mark.parametrize("model", [123, "", "   ", ["gpt-4o"], {"id": "gpt-4o"}, True])
def test_malformed_model_is_invalid_request(org, live_key, client_for, model):
    _key, plaintext = live_key
    before = snapshot(org)

    response = generate(client_for(plaintext), {"prompt": "p", "options": {"model": model}})

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    assert list(error["fields"]) == ["options.model"]
    assert_nothing_written(org, *before)


def test_a_huge_max_tokens_integer_is_refused_not_a_500(org, live_key, client_for):
    _key, plaintext = live_key

    response = generate(client_for(plaintext), {"prompt": "p", "options": {"max_tokens": 10**40}})

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_request"


# --- reserve the most, charge what it cost ---------------------------------------------------


def test_success_charges_the_reported_usage_and_releases_the_rest(org, live_key, client_for):
    _key, plaintext = live_key
    client = client_for(plaintext)
    before = credits_balance(organization=org)
    prompt = "one two three four five six seven eight"
    body = generate(client, {"prompt": prompt, "options": {"model": "gpt-4o"}}).json()
    reserved = body["credits_reserved"]
    assert reserved == reservation("gpt-4o", prompt, 16384) == 66

    assert run_job(body["job_id"]) == Job.Status.SUCCEEDED
    done = client.get(f"/api/v1/status/{body['job_id']}").json()

    # The development engine: ceil(bytes / 4) + 4 in, one per output word plus one out.
    words = len(done["result"]["text"].split())
    assert done["usage"] == {
        "input_tokens": math.ceil(len(prompt) / 4) + 4,
        "output_tokens": words + 1,
    }
    assert done["credits_charged"] == 1  # (14 × 1 + 12 × 4) / 1000, at least 1
    assert done["credits_reserved"] == reserved
    assert credits_balance(organization=org) == before - 1
    entries = LedgerEntry.objects.filter(job__job_id=body["job_id"])
    assert {(e.kind, e.amount) for e in entries} == {("reserve", -66), ("capture", 65)}
    total = LedgerEntry.objects.filter(account__organization=org).aggregate(s=Sum("amount"))["s"]
    assert total == credits_balance(organization=org)


def test_live_job_is_charged_from_the_usage_the_upstream_reported(
    openai_settings, fake, org, live_key, client_for
):
    fake.replies = [
        (200, {**completion(), "usage": {"prompt_tokens": 1000, "completion_tokens": 2000}}, 0)
    ]
    _key, plaintext = live_key
    client = client_for(plaintext)
    before = credits_balance(organization=org)

    body = generate(
        client, {"prompt": "Say hello", "options": {"model": "gpt-4o", "max_tokens": 4000}}
    ).json()
    assert body["credits_reserved"] == 17
    assert run_job(body["job_id"]) == Job.Status.SUCCEEDED
    done = client.get(f"/api/v1/status/{body['job_id']}").json()

    [call] = fake.requests
    assert call["body"]["model"] == "gpt-4o"
    assert call["body"]["max_tokens"] == 4000
    assert done["usage"] == {"input_tokens": 1000, "output_tokens": 2000}
    assert done["credits_charged"] == 9  # 1000 × 1 / 1000 + 2000 × 4 / 1000
    assert credits_balance(organization=org) == before - 9


def test_reported_usage_past_the_reservation_is_capped_at_it(
    openai_settings, fake, org, live_key, client_for
):
    fake.replies = [
        (200, {**completion(), "usage": {"prompt_tokens": 10**6, "completion_tokens": 10**6}}, 0)
    ]
    _key, plaintext = live_key
    client = client_for(plaintext)
    before = credits_balance(organization=org)

    body = generate(client, {"prompt": "p", "options": {"model": "gpt-4o", "max_tokens": 100}})
    job_id = body.json()["job_id"]
    run_job(job_id)

    job = Job.objects.get(job_id=job_id)
    assert job.credits_charged == job.credits_reserved == 1
    assert credits_balance(organization=org) == before - 1


def test_upstream_without_usage_is_charged_the_whole_reservation(
    openai_settings, fake, org, live_key, client_for
):
    fake.replies = [(200, {**completion(), "usage": {"prompt_tokens": "many"}}, 0)]
    _key, plaintext = live_key
    client = client_for(plaintext)

    body = generate(client, {"prompt": "p", "options": {"model": "gpt-4o", "max_tokens": 2000}})
    run_job(body.json()["job_id"])

    job = Job.objects.get(job_id=body.json()["job_id"])
    assert job.status == Job.Status.SUCCEEDED
    assert job.credits_charged == job.credits_reserved == 9


def test_upstream_gets_only_what_the_price_table_allows(
    openai_settings, fake, org, live_key, client_for
):
    _key, plaintext = live_key
    body = generate(
        client_for(plaintext),
        {"prompt": "p", "options": {"temperature": 0.5, "n": 50, "max_completion_tokens": 10**6}},
    ).json()

    run_job(body["job_id"])

    [call] = fake.requests
    assert call["body"]["model"] == "gpt-4o-mini"
    assert call["body"]["max_tokens"] == 4096
    assert "n" not in call["body"] and "max_completion_tokens" not in call["body"]


def test_failure_releases_the_whole_reservation(org, live_key, client_for):
    _key, plaintext = live_key
    before = credits_balance(organization=org)
    body = generate(
        client_for(plaintext),
        {"prompt": "p", "options": {"model": "gpt-4o", "simulate_error": "fatal"}},
    ).json()

    assert run_job(body["job_id"]) == Job.Status.FAILED

    job = Job.objects.get(job_id=body["job_id"])
    assert job.credits_charged == 0 and job.usage is None
    assert credits_balance(organization=org) == before


def test_idempotent_replay_returns_the_job_and_charges_nothing_more(org, live_key, client_for):
    _key, plaintext = live_key
    client = client_for(plaintext)
    payload = {"prompt": "p", "options": {"model": "gpt-4o", "max_tokens": 3000}}
    first = generate(client, payload, HTTP_IDEMPOTENCY_KEY="order-1").json()
    run_job(first["job_id"])
    after_first = credits_balance(organization=org)

    again = generate(client, payload, HTTP_IDEMPOTENCY_KEY="order-1")

    assert again["Idempotent-Replayed"] == "true"
    assert again.json()["job_id"] == first["job_id"]
    assert credits_balance(organization=org) == after_first
    assert LedgerEntry.objects.filter(job__job_id=first["job_id"]).count() == 2


def test_a_price_change_after_submission_does_not_change_the_charge(org, live_key):
    key, _ = live_key
    job = job_submit(key=key, prompt="p", options={"model": "gpt-4o", "max_tokens": 1000}).job
    ModelPrice.objects.filter(model="gpt-4o").update(
        input_credits_per_1k_tokens=1000, output_credits_per_1k_tokens=1000
    )

    run_job(job.job_id)

    job.refresh_from_db()
    assert job.credits_reserved == 5
    assert job.credits_charged == 1


GPT4O = {"model": "gpt-4o", "max_tokens": 1000}  # 5 credits at 4 a thousand output tokens


def reserved(key) -> int:
    return job_submit(key=key, prompt="p", options=GPT4O).job.credits_reserved


def test_a_price_saved_here_applies_to_the_next_submission_at_once(org, live_key):
    key, _ = live_key
    assert reserved(key) == 5

    price = ModelPrice.objects.get(model="gpt-4o")
    price.output_credits_per_1k_tokens = Decimal(8)
    price.save()  # the signal drops this process's copy and the shared one

    assert reserved(key) == 9


def test_a_change_another_process_made_applies_once_the_local_copy_expires(
    org, live_key, settings, monkeypatch
):
    import time

    from django.core.cache import cache

    from billing.prices import PRICE_TABLE_CACHE_KEY

    settings.BILLING_PRICE_TABLE_LOCAL_SECONDS = 1.0
    key, _ = live_key
    clock = [time.monotonic()]
    monkeypatch.setattr(time, "monotonic", lambda: clock[0])
    assert reserved(key) == 5
    # What another process's save does: the row changes, the shared copy is dropped.
    ModelPrice.objects.filter(model="gpt-4o").update(output_credits_per_1k_tokens=8)
    cache.delete(PRICE_TABLE_CACHE_KEY)

    clock[0] += 0.5
    kept = reserved(key)
    clock[0] += 0.6
    fresh = reserved(key)

    assert (kept, fresh) == (5, 9)


# --- the price table in admin ---------------------------------------------------------------


def test_superuser_edits_a_price_in_admin_and_it_is_audited(db, client, django_user_model):
    admin = django_user_model.objects.create_superuser(email="ops@example.com", password="x" * 12)
    enable_totp(admin)  # staff need two-factor to use admin
    client.force_login(admin)
    price = ModelPrice.objects.get(model="gpt-4o")
    url = f"/admin/billing/modelprice/{price.pk}/change/"
    page = client.get(url)
    assert page.status_code == 200

    response = client.post(
        url,
        {
            "model": "gpt-4o",
            "input_credits_per_1k_tokens": "2",
            "output_credits_per_1k_tokens": "8",
            "max_output_tokens": "8192",
            "access-TOTAL_FORMS": "0",
            "access-INITIAL_FORMS": "0",
        },
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    price.refresh_from_db()
    assert price.output_credits_per_1k_tokens == Decimal("8")
    event = AuditEvent.objects.get(action="model_price.changed")
    assert event.metadata["max_output_tokens"] == 8192
    assert event.actor_user == admin


def test_staff_without_superuser_cannot_change_prices(db, client, django_user_model):
    from django.contrib.auth.models import Permission

    staff = django_user_model.objects.create_user(
        email="support@example.com", password="x" * 12, is_staff=True
    )
    staff.user_permissions.add(*Permission.objects.filter(codename__endswith="modelprice"))
    enable_totp(staff)
    client.force_login(staff)
    price = ModelPrice.objects.get(model="gpt-4o")

    response = client.post(
        f"/admin/billing/modelprice/{price.pk}/change/",
        {
            "model": "gpt-4o",
            "input_credits_per_1k_tokens": "0",
            "output_credits_per_1k_tokens": "0",
            "max_output_tokens": "1",
        },
    )

    assert response.status_code == 403
    price.refresh_from_db()
    assert price.output_credits_per_1k_tokens == Decimal("4")


def test_superuser_opens_a_model_to_a_plan_in_admin_audited(
    db, client, django_user_model, org, live_key, client_for
):
    from accounts.models import Plan
    from billing.models import ModelAccess

    admin = django_user_model.objects.create_superuser(email="ops@example.com", password="x" * 12)
    enable_totp(admin)  # staff need two-factor to use admin
    client.force_login(admin)
    price = ModelPrice.objects.get(model="o1")
    [enterprise] = ModelAccess.objects.filter(price=price)
    _key, plaintext = live_key
    body = {"prompt": "p", "options": {"model": "o1", "max_tokens": 100}}
    assert generate(client_for(plaintext), body).json()["error"]["code"] == "model_not_available"

    response = client.post(
        f"/admin/billing/modelprice/{price.pk}/change/",
        {
            "model": "o1",
            "input_credits_per_1k_tokens": "6",
            "output_credits_per_1k_tokens": "24",
            "max_output_tokens": "32768",
            "access-TOTAL_FORMS": "2",
            "access-INITIAL_FORMS": "1",
            "access-0-id": str(enterprise.pk),
            "access-0-price": str(price.pk),
            "access-0-plan": str(enterprise.plan_id),
            "access-1-price": str(price.pk),
            "access-1-plan": str(Plan.objects.get(code="business").pk),
        },
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    event = AuditEvent.objects.get(action="model_price.access_changed")
    assert event.metadata["plans"] == ["business", "enterprise"]
    assert generate(client_for(plaintext), body).status_code == 202
