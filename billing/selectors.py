"""Reads about credits."""

from django.db.models import (
    BigIntegerField,
    Case,
    Count,
    Exists,
    F,
    OuterRef,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce, TruncHour

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


def _settlements(*, organization: Organization, since, until):
    # One capture or release per finished job: its net (with its reserve) is what it cost.
    return LedgerEntry.objects.filter(
        account__organization=organization,
        kind__in=[LedgerEntry.Kind.CAPTURE, LedgerEntry.Kind.RELEASE],
        created_at__gte=since,
        created_at__lt=until,
    )


def credits_spent_by(*, organization: Organization, since, until, group: str) -> list[dict]:
    """Return the credits finished jobs cost from ``since`` to ``until``, grouped by ``group``
    (``"model"`` or ``"key"``): ``[{"group", "credits", "jobs"}]``, most credits first."""
    field = {"model": "job__model", "key": "job__api_key_id"}[group]
    rows = (
        _settlements(organization=organization, since=since, until=until)
        .values(field)
        .annotate(net=Sum(ledger_net()), jobs=Count("id"))
        .order_by()
    )
    out = [
        {"group": row[field], "credits": -(row["net"] or 0), "jobs": row["jobs"]} for row in rows
    ]
    return sorted(out, key=lambda row: (-row["credits"], -row["jobs"], str(row["group"])))


def credits_spent_series(*, organization: Organization, since, until, step) -> list[tuple]:
    """Return ``[(bucket_start, credits, 0)]`` of what finished jobs cost, every ``step``
    (whole hours) from ``since``'s hour to ``until``, every bucket present."""
    start = since.replace(minute=0, second=0, microsecond=0)
    buckets = {}
    moment = start
    while moment < until:
        buckets[moment] = 0
        moment += step
    rows = (
        _settlements(organization=organization, since=start, until=until)
        .annotate(hour=TruncHour("created_at"))
        .values("hour")
        .annotate(net=Sum(ledger_net()))
        .order_by()
    )
    for row in rows:
        bucket = start + int((row["hour"] - start) / step) * step
        if bucket in buckets:
            buckets[bucket] += -(row["net"] or 0)
    return [(moment, credits, 0) for moment, credits in buckets.items()]
