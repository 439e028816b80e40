"""Spend limits per key (day, month, total) and per organization (month)."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from accounts.models import AuditEvent, Membership
from apikeys.keys.models import ApiKey, Permission
from billing.models import CreditAccount, LedgerEntry
from billing.selectors import credits_balance
from billing.services import credits_spend_limit_set
from jobs.models import Job
from jobs.selectors import spend_period_start
from jobs.services import job_submit
from jobs.tasks import run_job
from tests.helpers import SYSTEM

# gpt-4o, "p", max_tokens 1000: ceil((17 × 1 + 1000 × 4) / 1000) = 5 credits reserved.
FIVE = {"prompt": "p", "options": {"model": "gpt-4o", "max_tokens": 1000}}


def generate(client, body=None):
    return client.post("/api/v1/generate", body or FIVE, format="json")


def snapshot(org):
    return (
        Job.objects.filter(organization=org).count(),
        LedgerEntry.objects.filter(account__organization=org).count(),
        credits_balance(organization=org),
    )


def code(response):
    return response.json()["error"]["code"]


# --- a key's limit ---------------------------------------------------------------------------


def test_submission_past_the_keys_limit_is_402_and_writes_nothing(org, make_key, client_for):
    _key, plaintext = make_key(org, spend_limit_credits=12, spend_limit_period="day")
    client = client_for(plaintext)
    assert generate(client).status_code == 202
    assert generate(client).status_code == 202  # 10 of 12
    before = snapshot(org)

    refused = generate(client)

    assert refused.status_code == 402
    assert code(refused) == "spend_limit_reached"
    assert snapshot(org) == before
    # A cheaper job still fits: 10 + 1 <= 12.
    assert generate(client, {"prompt": "p"}).status_code == 202


def test_the_limit_counts_charges_not_reservations_once_jobs_finish(org, make_key, client_for):
    _key, plaintext = make_key(org, spend_limit_credits=6)
    client = client_for(plaintext)
    first = generate(client).json()["job_id"]
    assert code(generate(client)) == "spend_limit_reached"  # 5 held + 5 > 6

    run_job(first)  # charged 1 of its 5

    assert Job.objects.get(job_id=first).credits_charged == 1
    assert generate(client).status_code == 202  # 1 + 5 <= 6


def test_failed_and_canceled_jobs_do_not_count(org, make_key, client_for):
    _key, plaintext = make_key(org, spend_limit_credits=5)
    client = client_for(plaintext)
    body = {"prompt": "p", "options": {**FIVE["options"], "simulate_error": "fatal"}}
    job_id = generate(client, body).json()["job_id"]
    run_job(job_id)

    assert generate(client).status_code == 202


def test_a_zero_limit_refuses_every_paid_job(org, make_key, client_for):
    _key, plaintext = make_key(org, spend_limit_credits=0)

    assert code(generate(client_for(plaintext), {"prompt": "p"})) == "spend_limit_reached"


def test_other_keys_spend_does_not_count_against_a_keys_limit(org, make_key, client_for):
    _key, limited = make_key(org, spend_limit_credits=5)
    _key, other = make_key(org)
    for _ in range(3):
        assert generate(client_for(other)).status_code == 202

    assert generate(client_for(limited)).status_code == 202


def submitted_days_ago(monkeypatch, days, **submission):
    """Submit a job as if it were ``days`` days ago."""
    then = timezone.now() - timedelta(days=days)
    with monkeypatch.context() as patched:
        patched.setattr("jobs.services.submission.timezone.now", lambda: then)
        return job_submit(**submission).job


def test_a_new_day_starts_a_new_daily_period(org, make_key, monkeypatch):
    key, _ = make_key(org, spend_limit_credits=5, spend_limit_period="day")
    submitted_days_ago(monkeypatch, 1, key=key, prompt="p", options=FIVE["options"])

    assert job_submit(key=key, prompt="p", options=FIVE["options"]).job.credits_reserved == 5


def test_a_total_limit_counts_every_period(org, make_key, monkeypatch):
    key, _ = make_key(org, spend_limit_credits=5, spend_limit_period="total")
    submitted_days_ago(monkeypatch, 400, key=key, prompt="p", options=FIVE["options"])

    with pytest.raises(Exception) as refused:
        job_submit(key=key, prompt="p", options=FIVE["options"])
    assert refused.value.code == "spend_limit_reached"


def test_periods_start_at_utc_midnight_and_the_first_of_the_month():
    now = datetime(2026, 3, 17, 15, 4, tzinfo=UTC)

    assert spend_period_start("day", now) == datetime(2026, 3, 17, tzinfo=UTC)
    assert spend_period_start("month", now) == datetime(2026, 3, 1, tzinfo=UTC)
    assert spend_period_start("total", now) is None


def test_the_limit_comes_before_insufficient_credits(make_org, make_key, client_for):
    org = make_org(credits=0)
    _key, plaintext = make_key(org, spend_limit_credits=1)

    assert code(generate(client_for(plaintext))) == "spend_limit_reached"


def test_the_in_flight_cap_comes_before_the_spend_limit(org, make_key, client_for):
    from accounts.models import Plan

    Plan.objects.filter(pk=org.plan_id).update(max_jobs_in_flight=1)
    _key, plaintext = make_key(org, spend_limit_credits=5)
    client = client_for(plaintext)
    assert generate(client).status_code == 202

    assert code(generate(client)) == "too_many_jobs_in_flight"


def test_a_lowered_limit_holds_at_once(org, make_key, client_for):
    key, plaintext = make_key(org, spend_limit_credits=100)
    client = client_for(plaintext)
    assert generate(client).status_code == 202
    ApiKey.objects.filter(pk=key.pk).update(spend_limit_credits=5)

    assert code(generate(client)) == "spend_limit_reached"


def test_test_keys_spend_nothing_so_their_limit_never_refuses(org, make_key, client_for):
    _key, plaintext = make_key(org, type="test", spend_limit_credits=0)

    assert generate(client_for(plaintext)).status_code == 202


# --- the key API -----------------------------------------------------------------------------


@pytest.fixture
def manager(org, make_key, client_for):
    key, plaintext = make_key(org, name="Manager", permissions=list(Permission.values))
    return key, client_for(plaintext)


def test_key_api_sets_a_spend_limit_on_creation_and_shows_it(manager):
    _key, client = manager

    response = client.post(
        "/api/v1/keys",
        {"name": "CI", "spend_limit_credits": 500, "spend_limit_period": "day"},
        format="json",
    )

    assert response.status_code == 201
    body = response.json()
    assert body["spend_limit_credits"] == 500 and body["spend_limit_period"] == "day"
    key = ApiKey.objects.get(key_id=body["id"])
    assert (key.spend_limit_credits, key.spend_limit_period) == (500, "day")


def test_key_api_patch_changes_and_removes_the_limit_audited(org, make_key, manager):
    target, _ = make_key(org)
    _key, client = manager
    url = f"/api/v1/keys/{target.key_id}"

    changed = client.patch(
        url, {"spend_limit_credits": 50, "spend_limit_period": "total"}, format="json"
    )
    assert changed.status_code == 200
    assert changed.json()["spend_limit_credits"] == 50
    event = AuditEvent.objects.filter(action="api_key.updated").latest("id")
    assert event.metadata["changes"]["spend_limit_credits"] == {"from": None, "to": 50}

    removed = client.patch(url, {"spend_limit_credits": None}, format="json")
    assert removed.json()["spend_limit_credits"] is None
    target.refresh_from_db()
    assert target.spend_limit_credits is None and target.spend_limit_period == "total"


@pytest.mark.parametrize(
    "body",
    [
        {"spend_limit_credits": -1},
        {"spend_limit_credits": 1.5},
        {"spend_limit_credits": "10"},
        {"spend_limit_credits": True},
        {"spend_limit_credits": 10**13},
        {"spend_limit_period": "week"},
        {"spend_limit_period": None},
    ],
)
def test_key_api_refuses_bad_spend_limits(org, make_key, manager, body):
    target, _ = make_key(org, spend_limit_credits=7)
    _key, client = manager

    response = client.patch(f"/api/v1/keys/{target.key_id}", body, format="json")

    assert response.status_code == 400
    assert code(response) == "invalid_request"
    assert set(response.json()["error"]["fields"]) == set(body)
    target.refresh_from_db()
    assert target.spend_limit_credits == 7 and target.spend_limit_period == "month"


def test_key_api_cannot_change_another_organizations_key(make_org, make_key, manager):
    theirs, _ = make_key(make_org(), spend_limit_credits=5)
    _key, client = manager

    response = client.patch(
        f"/api/v1/keys/{theirs.key_id}", {"spend_limit_credits": None}, format="json"
    )

    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.spend_limit_credits == 5


# --- the organization's monthly limit --------------------------------------------------------


def test_submission_past_the_organizations_monthly_limit_is_402(org, make_key, client_for):
    credits_spend_limit_set(organization=org, monthly_limit=9, actor=SYSTEM)
    _key, first = make_key(org)
    _key, second = make_key(org)
    assert generate(client_for(first)).status_code == 202
    before = snapshot(org)

    refused = generate(client_for(second))

    assert refused.status_code == 402
    assert code(refused) == "org_spend_limit_reached"
    assert snapshot(org) == before


def test_the_keys_limit_comes_before_the_organizations(org, make_key, client_for):
    credits_spend_limit_set(organization=org, monthly_limit=0, actor=SYSTEM)
    _key, plaintext = make_key(org, spend_limit_credits=0)

    assert code(generate(client_for(plaintext))) == "spend_limit_reached"


def test_another_organizations_spend_does_not_count(make_org, make_key, client_for):
    org, other = make_org(), make_org()
    credits_spend_limit_set(organization=org, monthly_limit=5, actor=SYSTEM)
    _key, theirs = make_key(other)
    _key, mine = make_key(org)
    for _ in range(3):
        generate(client_for(theirs))

    assert generate(client_for(mine)).status_code == 202


def test_setting_the_organizations_limit_is_audited_and_validated(org, make_user):
    owner = make_user(org, role=Membership.Role.OWNER)
    from accounts.audit import Actor

    credits_spend_limit_set(organization=org, monthly_limit=300, actor=Actor(user=owner))

    assert CreditAccount.objects.get(organization=org).monthly_spend_limit == 300
    event = AuditEvent.objects.get(action="credits.spend_limit_changed")
    assert event.metadata == {"from": None, "to": 300} and event.actor_user == owner
    for bad in (-1, 2.5, "300", True):
        with pytest.raises(Exception) as refused:
            credits_spend_limit_set(organization=org, monthly_limit=bad, actor=SYSTEM)
        assert refused.value.code == "invalid_request"
    assert CreditAccount.objects.get(organization=org).monthly_spend_limit == 300


def test_free_test_key_jobs_pass_an_organization_already_past_its_limit(org, make_key, client_for):
    _key, live = make_key(org)
    assert generate(client_for(live)).status_code == 202  # 5 spent
    credits_spend_limit_set(organization=org, monthly_limit=1, actor=SYSTEM)
    _key, test = make_key(org, type="test")

    assert code(generate(client_for(live))) == "org_spend_limit_reached"
    assert generate(client_for(test)).status_code == 202
