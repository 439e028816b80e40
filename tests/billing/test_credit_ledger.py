"""The credit pool and its append-only ledger: every move, and the sum that always holds."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import IntegrityError, transaction
from django.db.models import Sum

from accounts.models import AuditEvent, Organization
from billing.models import CreditAccount, LedgerEntry
from billing.services import (
    InsufficientCredits,
    credits_adjust,
    credits_balance,
    credits_capture,
    credits_grant,
    credits_grant_all_plans,
    credits_grant_plan_period,
    credits_release,
    credits_reserve,
)
from jobs.services import job_submit
from perceptis.errors import InvalidRequest
from tests.helpers import SYSTEM

Kind = LedgerEntry.Kind


def assert_balance(org, expected: int) -> None:
    """The balance is what we expect, equals the ledger's sum and the last row's balance_after."""
    ledger = LedgerEntry.objects.filter(account__organization=org)
    assert credits_balance(organization=org) == expected
    assert (ledger.aggregate(s=Sum("amount"))["s"] or 0) == expected
    last = ledger.order_by("-id").first()
    assert last is None or last.balance_after == expected


@pytest.fixture
def empty_org(make_org):
    return make_org(credits=0)


def new_job(org, make_key):
    """A job with no reservation yet (a test key reserves nothing), to reserve against."""
    key, _ = make_key(org, type="test")
    return job_submit(key=key, prompt="p").job


def test_opening_balance_is_one_grant(make_org):
    org = make_org(credits=25)

    [entry] = LedgerEntry.objects.filter(account__organization=org)
    assert (entry.kind, entry.amount, entry.reason) == (Kind.GRANT, 25, "Opening balance")
    assert_balance(org, 25)


def test_zero_opening_balance_writes_no_ledger_row_but_an_account(empty_org):
    assert CreditAccount.objects.filter(organization=empty_org).exists()
    assert not LedgerEntry.objects.filter(account__organization=empty_org).exists()
    assert_balance(empty_org, 0)


def test_grant_adds_credits_with_a_ledger_row_and_an_audit_event(empty_org):
    entry = credits_grant(organization=empty_org, amount=40, reason="Purchase #7", actor=SYSTEM)

    assert (entry.kind, entry.amount, entry.reason, entry.actor_label) == (
        Kind.GRANT,
        40,
        "Purchase #7",
        "tests",
    )
    assert_balance(empty_org, 40)
    event = AuditEvent.objects.get(organization=empty_org, action="credits.granted")
    assert event.metadata["amount"] == 40


@pytest.mark.parametrize("amount", [0, -5, 2.5, True, "10"])
def test_grant_refuses_anything_but_a_positive_whole_number(empty_org, amount):
    with pytest.raises(InvalidRequest):
        credits_grant(organization=empty_org, amount=amount, reason="x", actor=SYSTEM)
    assert_balance(empty_org, 0)


def test_grant_needs_a_reason(empty_org):
    with pytest.raises(InvalidRequest):
        credits_grant(organization=empty_org, amount=5, reason="  ", actor=SYSTEM)
    assert_balance(empty_org, 0)


def test_adjustments_add_and_remove_credits(make_org):
    org = make_org(credits=10)

    credits_adjust(organization=org, amount=5, reason="Goodwill", actor=SYSTEM)
    assert_balance(org, 15)
    credits_adjust(organization=org, amount=-15, reason="Refund clawback", actor=SYSTEM)
    assert_balance(org, 0)
    assert AuditEvent.objects.filter(organization=org, action="credits.adjusted").count() == 2


def test_adjustment_below_zero_is_refused_and_writes_nothing(make_org):
    org = make_org(credits=10)

    with pytest.raises(InsufficientCredits):
        credits_adjust(organization=org, amount=-11, reason="Too much", actor=SYSTEM)

    assert_balance(org, 10)
    assert not LedgerEntry.objects.filter(kind=Kind.ADJUSTMENT).exists()
    assert not AuditEvent.objects.filter(action="credits.adjusted").exists()


def test_reserve_then_capture_charges_the_reservation(make_org, make_key):
    org = make_org(credits=10)
    job = new_job(org, make_key)

    credits_reserve(organization=org, job=job, amount=3)
    assert_balance(org, 7)
    capture = credits_capture(job=job)

    assert (capture.kind, capture.amount) == (Kind.CAPTURE, 0)
    assert_balance(org, 7)


def test_reserve_then_release_returns_the_credits(make_org, make_key):
    org = make_org(credits=10)
    job = new_job(org, make_key)

    credits_reserve(organization=org, job=job, amount=3)
    release = credits_release(job=job)

    assert (release.kind, release.amount) == (Kind.RELEASE, 3)
    assert_balance(org, 10)


def test_reserve_more_than_the_balance_is_refused_and_writes_nothing(make_org, make_key):
    org = make_org(credits=2)
    job = new_job(org, make_key)

    with pytest.raises(InsufficientCredits) as caught:
        credits_reserve(organization=org, job=job, amount=3)

    assert caught.value.code == "insufficient_credits"
    assert caught.value.status_code == 402
    assert not LedgerEntry.objects.filter(job=job).exists()
    assert_balance(org, 2)


def test_capture_twice_makes_one_row(make_org, make_key):
    org = make_org(credits=10)
    job = new_job(org, make_key)
    credits_reserve(organization=org, job=job, amount=1)

    assert credits_capture(job=job) is not None
    assert credits_capture(job=job) is None
    assert credits_release(job=job) is None  # settled already: no refund after a charge

    assert LedgerEntry.objects.filter(job=job, kind__in=[Kind.CAPTURE, Kind.RELEASE]).count() == 1
    assert_balance(org, 9)


def test_release_twice_makes_one_row(make_org, make_key):
    org = make_org(credits=10)
    job = new_job(org, make_key)
    credits_reserve(organization=org, job=job, amount=4)

    assert credits_release(job=job) is not None
    assert credits_release(job=job) is None
    assert credits_capture(job=job) is None

    assert LedgerEntry.objects.filter(job=job, kind=Kind.RELEASE).count() == 1
    assert_balance(org, 10)


def test_a_second_reservation_for_one_job_is_refused_by_the_database(make_org, make_key):
    org = make_org(credits=10)
    job = new_job(org, make_key)
    credits_reserve(organization=org, job=job, amount=1)

    with pytest.raises(IntegrityError), transaction.atomic():
        credits_reserve(organization=org, job=job, amount=1)

    assert_balance(org, 9)


def test_settling_a_job_without_a_reservation_writes_nothing(make_org, make_key):
    org = make_org(credits=10)
    job = new_job(org, make_key)

    assert credits_capture(job=job) is None
    assert credits_release(job=job) is None
    assert not LedgerEntry.objects.filter(job=job).exists()


def test_balance_below_zero_is_refused_by_the_database(empty_org):
    with pytest.raises(IntegrityError), transaction.atomic():
        CreditAccount.objects.filter(organization=empty_org).update(balance=-1)


# --- plan grants -----------------------------------------------------------------------------


def _age(org, *, days: int) -> None:
    Organization.objects.filter(pk=org.pk).update(
        created_at=datetime.now(UTC) - timedelta(days=days)
    )


def test_plan_grant_is_given_once_per_period(empty_org):
    first = credits_grant_plan_period(organization=empty_org, period="2031-05")
    again = credits_grant_plan_period(organization=empty_org, period="2031-05")
    next_month = credits_grant_plan_period(organization=empty_org, period="2031-06")

    assert first.amount == empty_org.plan.monthly_credits
    assert again is None
    assert next_month is not None
    assert_balance(empty_org, 2 * empty_org.plan.monthly_credits)


def test_monthly_grant_reaches_older_orgs_once_and_skips_new_ones(make_org):
    old = make_org(credits=0)
    _age(old, days=70)
    new = make_org(credits=0)
    free = make_org(plan="free", credits=0)
    _age(free, days=70)

    assert credits_grant_all_plans() == 1
    assert credits_grant_all_plans() == 0

    assert_balance(old, old.plan.monthly_credits)
    assert_balance(new, 0)
    assert_balance(free, 0)
    entry = LedgerEntry.objects.get(account__organization=old)
    assert entry.period == datetime.now(UTC).strftime("%Y-%m")


# --- append-only -----------------------------------------------------------------------------


def test_ledger_entries_refuse_update_and_delete(make_org):
    org = make_org(credits=5)
    entry = LedgerEntry.objects.get(account__organization=org)

    entry.amount = 500
    with pytest.raises(ValueError):
        entry.save()
    with pytest.raises(ValueError):
        entry.delete()
    with pytest.raises(ValueError):
        LedgerEntry.objects.filter(pk=entry.pk).update(amount=500)
    with pytest.raises(ValueError):
        LedgerEntry.objects.filter(pk=entry.pk).delete()

    assert_balance(org, 5)


def test_audit_events_refuse_update_and_delete(make_org):
    org = make_org(credits=0)
    event = AuditEvent.objects.filter(organization=org).first()

    event.action = "forged"
    with pytest.raises(ValueError):
        event.save()
    with pytest.raises(ValueError):
        event.delete()
    event.refresh_from_db()
    assert event.action == "organization.created"
