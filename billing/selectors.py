"""Reads about credits."""

from django.db.models import (
    BigIntegerField,
    Case,
    Exists,
    F,
    OuterRef,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce

from accounts.models import Organization
from billing.models import CreditAccount, LedgerEntry


def credits_ledger_sum(*, organization: Organization) -> int:
    """Return the sum of the organization's ledger amounts: its balance by definition.

    ``CreditAccount.balance`` is kept equal to this in the same transaction as every ledger
    row; support pages show this sum so that what they read is the ledger itself.
    """
    total = LedgerEntry.objects.filter(account__organization=organization).aggregate(
        total=Sum("amount")
    )["total"]
    return total or 0


def ledger_lines(*, organization: Organization, project: str | None = None):
    """Return the organization's ledger with one line per finished job, newest first.

    A job's reserve and its capture or release are folded into the settlement's line, whose
    ``net`` is the job's charge (negative: credits spent; 0 for a failed job or one canceled
    before its engine returned; a job canceled after its engine returned pays what it used).
    Grants and adjustments are lines of their own (``net`` is their amount). Reservations of
    jobs still queued or running are not lines yet: they are held, not spent. With ``project``
    (a public id), only that project's jobs' lines: grants and adjustments are the
    organization's and belong to no project.
    """
    lines = LedgerEntry.objects.filter(account__organization=organization)
    if project is not None:
        lines = lines.filter(project_id=project)
    return (
        lines.exclude(kind=LedgerEntry.Kind.RESERVE)
        .annotate(net=ledger_net())
        .order_by("-created_at", "-id")
    )


def ledger_net():
    """Return the expression of an entry's net: a settlement plus its job's reserve, else the
    entry's own amount (for a reserve row it is the reserve itself)."""
    reserve = LedgerEntry.objects.filter(
        account=OuterRef("account"), job_ref=OuterRef("job_ref"), kind=LedgerEntry.Kind.RESERVE
    ).values("amount")[:1]
    return Case(
        When(
            kind__in=[LedgerEntry.Kind.CAPTURE, LedgerEntry.Kind.RELEASE],
            then=F("amount") + Coalesce(Subquery(reserve), Value(0)),
        ),
        default=F("amount"),
        output_field=BigIntegerField(),
    )


def credits_held(*, organization: Organization) -> int:
    """Return the credits reserved by the organization's jobs that are not settled yet."""
    settled = LedgerEntry.objects.filter(
        account=OuterRef("account"),
        job_ref=OuterRef("job_ref"),
        kind__in=[LedgerEntry.Kind.CAPTURE, LedgerEntry.Kind.RELEASE],
    )
    total = (
        LedgerEntry.objects.filter(
            account__organization=organization, kind=LedgerEntry.Kind.RESERVE
        )
        .exclude(Exists(settled))
        .aggregate(total=Sum("amount"))["total"]
    )
    return -(total or 0)


def credits_balance(*, organization: Organization) -> int:
    """Return the organization's balance (0 before it has a credit account)."""
    return (
        CreditAccount.objects.filter(organization=organization)
        .values_list("balance", flat=True)
        .first()
        or 0
    )
