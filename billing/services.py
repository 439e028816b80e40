"""Credits: grant, adjust, reserve for a job, capture on success, release on failure.

The balance moves only by a conditional ``UPDATE ... SET balance = balance + n`` in the
database, never by read-modify-write in Python, and each move writes its ledger row in the
same transaction, so the balance equals the ledger's sum under any concurrency.
"""

from django.db import IntegrityError, transaction
from django.db.models import BigIntegerField, Case, F, When

from accounts.audit import Actor, audit_record
from accounts.models import Organization, Project
from accounts.services import organization_create
from billing.errors import InsufficientCredits
from billing.models import CreditAccount, LedgerEntry
from billing.periods import spend_periods
from billing.selectors import credits_balance
from billing.validation import clean_spend_limit
from perceptis.errors import InvalidRequest


def _account(organization: Organization) -> CreditAccount:
    account, _ = CreditAccount.objects.get_or_create(organization=organization)
    return account


def _move(*, account: CreditAccount, amount: int, **also) -> int | None:
    """Add ``amount`` to the balance atomically (with the ``also`` updates of the same row);
    return the new balance, or None if it would go below zero."""
    qs = CreditAccount.objects.filter(pk=account.pk)
    if amount < 0:
        qs = qs.filter(balance__gte=-amount)
    if not qs.update(balance=F("balance") + amount, **also):
        return None
    return CreditAccount.objects.values_list("balance", flat=True).get(pk=account.pk)


def _entry(
    *,
    account,
    kind,
    amount,
    balance_after,
    job=None,
    reason="",
    actor: Actor | None = None,
    period: str | None = None,
):
    return LedgerEntry.objects.create(
        account=account,
        period=period,
        kind=kind,
        amount=amount,
        balance_after=balance_after,
        job=job,
        job_ref=job.job_id if job is not None else "",
        project_id=job.project_id if job is not None else None,
        reason=reason[:255],
        actor_user=actor.user if actor else None,
        actor_label=actor.label[:255] if actor else "system",
    )


def credits_account_lock(*, organization: Organization) -> CreditAccount:
    """Lock the organization's credit account row until the transaction ends; return it.

    Submissions take this lock first, so their checks of caps and limits and the writes that
    follow are serialized per organization.
    """
    _account(organization)
    return CreditAccount.objects.select_for_update().get(organization=organization)


@transaction.atomic
def credits_spend_limit_set(
    *, organization: Organization, monthly_limit: int | None, actor: Actor
) -> CreditAccount:
    """Set (a whole number of credits, 0 allowed) or remove (None) the organization's monthly
    spend limit, audited. Submissions past it are refused with ``org_spend_limit_reached``.
    """
    try:
        monthly_limit = clean_spend_limit(monthly_limit)
    except ValueError as exc:
        raise InvalidRequest(str(exc), fields={"monthly_spend_limit": [str(exc)]}) from None
    account = credits_account_lock(organization=organization)
    old = account.monthly_spend_limit
    if old != monthly_limit:
        account.monthly_spend_limit = monthly_limit
        account.save(update_fields=["monthly_spend_limit", "updated_at"])
        audit_record(
            actor=actor,
            action="credits.spend_limit_changed",
            organization=organization,
            target=organization,
            metadata={"from": old, "to": monthly_limit},
        )
    return account


# What each hand-made change allows, refuses and records: kind, zero/negative allowed, message.
_HAND_CHANGES = {
    LedgerEntry.Kind.GRANT: (
        "credits.granted",
        lambda amount: amount > 0,
        "The amount must be a positive whole number of credits.",
        "A grant needs a reason.",
    ),
    LedgerEntry.Kind.ADJUSTMENT: (
        "credits.adjusted",
        lambda amount: amount != 0,
        "The adjustment must be a non-zero whole number of credits.",
        "An adjustment needs a reason.",
    ),
}


@transaction.atomic
def _credits_change(
    *, organization: Organization, kind: str, amount: int, reason: str, actor: Actor
) -> LedgerEntry:
    action, amount_ok, amount_error, reason_error = _HAND_CHANGES[kind]
    if isinstance(amount, bool) or not isinstance(amount, int) or not amount_ok(amount):
        raise InvalidRequest(amount_error)
    if not isinstance(reason, str) or not reason.strip():
        raise InvalidRequest(reason_error)
    reason = reason.strip()
    account = _account(organization)
    balance = _move(account=account, amount=amount)
    if balance is None:
        raise InsufficientCredits(
            f"The balance is {credits_balance(organization=organization)}; it cannot go below 0."
        )
    entry = _entry(
        account=account,
        kind=kind,
        amount=amount,
        balance_after=balance,
        reason=reason,
        actor=actor,
    )
    audit_record(
        actor=actor,
        action=action,
        organization=organization,
        target=organization,
        metadata={"amount": amount, "reason": reason[:255], "balance_after": balance},
    )
    return entry


def credits_grant(
    *, organization: Organization, amount: int, reason: str, actor: Actor
) -> LedgerEntry:
    """Give the organization ``amount`` credits (a positive whole number), with a reason."""
    return _credits_change(
        organization=organization,
        kind=LedgerEntry.Kind.GRANT,
        amount=amount,
        reason=reason,
        actor=actor,
    )


def credits_adjust(
    *, organization: Organization, amount: int, reason: str, actor: Actor
) -> LedgerEntry:
    """Add (positive) or remove (negative) credits by hand; the balance never goes below zero."""
    return _credits_change(
        organization=organization,
        kind=LedgerEntry.Kind.ADJUSTMENT,
        amount=amount,
        reason=reason,
        actor=actor,
    )


@transaction.atomic
def organization_open(
    *, name: str, plan_code: str, actor: Actor, credits: int | None = None
) -> Organization:
    """Create an organization with its credit account and opening balance.

    ``credits`` is the opening balance exactly (0 is valid); when it is None the plan's monthly
    grant is given instead.
    """
    if credits is not None and (isinstance(credits, bool) or not isinstance(credits, int)):
        raise InvalidRequest("Credits are a whole number.")
    if credits is not None and credits < 0:
        raise InvalidRequest("Credits cannot be negative.")
    organization = organization_create(name=name, plan_code=plan_code, actor=actor)
    amount = organization.plan.monthly_credits if credits is None else credits
    if amount:
        credits_grant(
            organization=organization, amount=amount, reason="Opening balance", actor=actor
        )
    else:
        _account(organization)
    return organization


def credits_reserve(*, organization: Organization, job, amount: int) -> LedgerEntry:
    """Take ``amount`` from the balance for ``job``; raise ``InsufficientCredits`` when short.

    Call inside the transaction that creates the job, so a refusal leaves nothing behind.
    Submissions do not call this: ``jobs.services.admission`` reserves, checks every cap and
    keeps the spend counters in one statement; this one moves the balance alone.
    """
    account = _account(organization)
    balance = _move(account=account, amount=-amount)
    if balance is None:
        raise InsufficientCredits(
            f"This job costs {amount} credit{'s' if amount != 1 else ''}; the organization has "
            f"{credits_balance(organization=organization)}."
        )
    return _entry(
        account=account,
        kind=LedgerEntry.Kind.RESERVE,
        amount=-amount,
        balance_after=balance,
        job=job,
    )


def _less_if(field: str, amount: int, **period):
    return Case(
        When(**period, then=F(field) - amount), default=F(field), output_field=BigIntegerField()
    )


def _settle(*, job, kind: str, charged: int | None = None) -> LedgerEntry | None:
    reserve = LedgerEntry.objects.filter(job=job, kind=LedgerEntry.Kind.RESERVE).first()
    if reserve is None:
        return None  # Test-key jobs and free jobs reserve nothing.
    if LedgerEntry.objects.filter(
        job=job, kind__in=[LedgerEntry.Kind.CAPTURE, LedgerEntry.Kind.RELEASE]
    ).exists():
        return None
    reserved = -reserve.amount
    if kind == LedgerEntry.Kind.CAPTURE:
        # The charge never exceeds the reservation; what was reserved but not used comes back.
        charged = reserved if charged is None else max(0, min(charged, reserved))
        amount = reserved - charged
    else:
        amount = reserved
    try:
        with transaction.atomic():
            # What comes back is no longer spent, in the periods the job was submitted in.
            day, month = spend_periods(job.created_at)
            if amount:
                # The job's key, by the job's own relation: billing sits below apikeys.
                key_model = job._meta.get_field("api_key").related_model
                key_model.objects.filter(pk=job.api_key_id).update(
                    spend_total=F("spend_total") - amount,
                    spend_day=_less_if("spend_day", amount, spend_day_start=day),
                    spend_month=_less_if("spend_month", amount, spend_month_start=month),
                )
                Project.objects.filter(project_id=job.project_id).update(
                    spend_month=_less_if("spend_month", amount, spend_month_start=month)
                )
            balance = _move(
                account=reserve.account,
                amount=amount,
                spend_month=_less_if("spend_month", amount, spend_month_start=month),
            )
            return _entry(
                account=reserve.account, kind=kind, amount=amount, balance_after=balance, job=job
            )
    except IntegrityError:
        return None  # Settled concurrently: the constraint kept it to once.


def credits_capture(*, job, charged: int | None = None) -> LedgerEntry | None:
    """Charge the job ``charged`` credits of its reservation and return the rest (at most once).

    ``charged`` is capped at the reservation; None charges all of it. The capture row's amount
    is what comes back, so the job's reserve and capture rows sum to minus its charge.
    """
    return _settle(job=job, kind=LedgerEntry.Kind.CAPTURE, charged=charged)


def credits_release(*, job) -> LedgerEntry | None:
    """Return the job's reserved credits to the pool (at most once per job)."""
    return _settle(job=job, kind=LedgerEntry.Kind.RELEASE)


def credits_grant_plan_period(*, organization: Organization, period: str) -> LedgerEntry | None:
    """Give the organization its plan's credits for ``period`` ("YYYY-MM"), at most once."""
    plan = organization.plan
    if not plan.monthly_credits:
        return None
    account = _account(organization)
    try:
        with transaction.atomic():
            balance = _move(account=account, amount=plan.monthly_credits)
            entry = _entry(
                account=account,
                kind=LedgerEntry.Kind.GRANT,
                amount=plan.monthly_credits,
                balance_after=balance,
                reason=f"{plan.name} plan credits for {period}",
                actor=Actor.system("billing schedule"),
                period=period,
            )
    except IntegrityError:
        return None  # Already granted for this period.
    return entry


def credits_grant_all_plans(*, now=None) -> int:
    """Grant every organization its plan's credits for the current month; return how many got them.

    Organizations created this month are skipped: their opening balance covers the first period.
    """
    from django.utils import timezone

    now = now or timezone.now()
    period = now.strftime("%Y-%m")
    month_start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    granted = 0
    orgs = Organization.objects.select_related("plan").filter(
        plan__monthly_credits__gt=0, created_at__lt=month_start
    )
    for org in orgs:
        if credits_grant_plan_period(organization=org, period=period):
            granted += 1
    return granted
