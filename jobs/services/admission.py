"""Admitting a submission: every cap, limit and write of a new job in one statement.

A submission is decided on three rows, never on a sum of jobs: the key's row carries what its
jobs spent per UTC day, calendar month and in total (``ApiKey.spend_*``), the key's project's
row its month's spend (``Project.spend_month``), and the organization's credit account its
balance, its jobs in flight and its month's spend (``CreditAccount``). One conditional
``UPDATE`` of each row checks and moves them, and on PostgreSQL the job's ``INSERT``, the
three ``UPDATE``\\ s and the ledger's reserve row are one
statement (data-modifying CTEs): the rows are locked by that statement and released at the
commit that follows it, so one organization's submissions queue on its row for one statement,
not for a whole request. Each ``UPDATE``'s condition is re-checked by PostgreSQL on the row's
newest version after a wait, so no two submissions can both take the last credit, the last
job slot or the last of a spend limit. SQLite serializes writers anyway: there the same
``UPDATE``\\ s run one after the other in the submission's transaction.

A refusal writes nothing (the caller's transaction rolls back): ``admission_refusal`` then reads
the two rows again and names the first cap the job is past, in the pipeline's order.

Workers keep the counters: ``counters_job_left_flight`` when a job reaches a terminal status
(same transaction), ``billing.services`` when a settlement returns credits (spend is what a job
holds while queued or running and what it was charged once finished, as
``jobs.selectors.spend_for_key`` sums it). Rows are always locked job, key, project, then
account.
"""

from datetime import datetime

from django.db import connection
from django.db.models import F
from django.db.models.sql import InsertQuery

from accounts.models import Organization, Plan, Project
from apikeys.keys.models import ApiKey
from billing.errors import (
    InsufficientCredits,
    OrgSpendLimitReached,
    ProjectSpendLimitReached,
    SpendLimitReached,
)
from billing.models import CreditAccount, LedgerEntry
from billing.periods import spend_periods
from jobs.errors import TooManyJobsInFlight
from jobs.models import Job


def _tables() -> dict:
    return {
        "key": ApiKey._meta.db_table,
        "account": CreditAccount._meta.db_table,
        "entry": LedgerEntry._meta.db_table,
        "organization": Organization._meta.db_table,
        "plan": Plan._meta.db_table,
        "project": Project._meta.db_table,
    }


# The key's spend in its limit's period, before this job.
_KEY_SPENT = """CASE spend_limit_period
    WHEN 'day' THEN CASE WHEN spend_day_start = %(day)s THEN spend_day ELSE 0 END
    WHEN 'month' THEN CASE WHEN spend_month_start = %(month)s THEN spend_month ELSE 0 END
    ELSE spend_total END"""

_KEY_UPDATE = (
    """UPDATE {key} SET
    spend_day = CASE WHEN spend_day_start = %(day)s THEN spend_day ELSE 0 END + %(cost)s,
    spend_day_start = %(day)s,
    spend_month = CASE WHEN spend_month_start = %(month)s THEN spend_month ELSE 0 END + %(cost)s,
    spend_month_start = %(month)s,
    spend_total = spend_total + %(cost)s
WHERE id = %(key_id)s
    AND (%(cost)s = 0 OR spend_limit_credits IS NULL
         OR """
    + _KEY_SPENT
    + """ + %(cost)s <= spend_limit_credits)"""
)

# The project's month, as the organization's below. ``{admitted}``: on PostgreSQL, that the
# key's UPDATE matched (its CTE); on SQLite, true.
_PROJECT_UPDATE = """UPDATE {project} SET
    spend_month = CASE WHEN spend_month_start = %(month)s THEN spend_month ELSE 0 END + %(cost)s,
    spend_month_start = %(month)s
WHERE project_id = %(project_id)s AND {admitted}
    AND (%(cost)s = 0 OR monthly_spend_limit IS NULL
         OR CASE WHEN spend_month_start = %(month)s THEN spend_month ELSE 0 END + %(cost)s
            <= monthly_spend_limit)"""

# ``{admitted}``: on PostgreSQL, that the project's UPDATE matched (its CTE); on SQLite, true.
_ACCOUNT_UPDATE = """UPDATE {account} SET
    balance = balance - %(cost)s,
    jobs_in_flight = jobs_in_flight + 1,
    spend_month = CASE WHEN spend_month_start = %(month)s THEN spend_month ELSE 0 END + %(cost)s,
    spend_month_start = %(month)s
WHERE organization_id = %(organization_id)s AND {admitted}
    AND balance >= %(cost)s
    AND jobs_in_flight < (
        SELECT p.max_jobs_in_flight FROM {plan} p JOIN {organization} o ON o.plan_id = p.id
        WHERE o.id = %(organization_id)s)
    AND (%(cost)s = 0 OR monthly_spend_limit IS NULL
         OR CASE WHEN spend_month_start = %(month)s THEN spend_month ELSE 0 END + %(cost)s
            <= monthly_spend_limit)
RETURNING id, balance"""

_ENTRY_COLUMNS = (
    "account_id, kind, amount, job_id, job_ref, reason, period, actor_user_id, actor_label, "
    "balance_after, created_at, project_id"
)


def _job_insert(job: Job) -> tuple[str, dict]:
    """Return the job's ``INSERT`` as Django would write it, with named parameters."""
    fields = [f for f in Job._meta.concrete_fields if not f.primary_key]
    query = InsertQuery(Job)
    query.insert_values(fields, [job])
    [(sql, params)] = query.get_compiler(connection=connection).as_sql()
    pieces = sql.split("%s")
    named = {f"j{i}": value for i, value in enumerate(params)}
    sql = pieces[0] + "".join(f"%(j{i})s" + piece for i, piece in enumerate(pieces[1:]))
    return sql, named


def _params(*, job: Job, key: ApiKey, cost: int) -> dict:
    day, month = spend_periods(job.created_at)
    return {
        "cost": cost,
        "day": day,
        "month": month,
        "key_id": key.pk,
        "organization_id": key.organization_id,
        "project_id": job.project_id,
        "job_ref": job.job_id,
        "now": job.created_at,
    }


def admission_insert(*, job: Job, key: ApiKey, cost: int) -> bool:
    """Insert ``job`` and take its place under every cap; return False when a cap refuses it.

    Call inside the submission's transaction and roll it back on False (the job row, and on
    SQLite the key's counters, are written before the refusal is known). A reused
    Idempotency-Key raises ``IntegrityError`` from the job's unique constraint, whatever the
    caps. On success ``job`` has its primary key and the ledger its reserve row (when ``cost``).
    """
    if connection.vendor == "postgresql":
        return _admit_in_one_statement(job=job, key=key, cost=cost)
    return _admit_step_by_step(job=job, key=key, cost=cost)


def _admit_in_one_statement(*, job: Job, key: ApiKey, cost: int) -> bool:
    insert, params = _job_insert(job)
    params.update(_params(job=job, key=key, cost=cost))
    tables = _tables()
    # Table names and Django's own INSERT only; every value is a parameter.
    sql = f"""WITH job AS ({insert} RETURNING id),
k AS ({_KEY_UPDATE.format(**tables)} RETURNING id),
p AS ({_PROJECT_UPDATE.format(admitted="EXISTS (SELECT 1 FROM k)", **tables)} RETURNING id),
a AS ({_ACCOUNT_UPDATE.format(admitted="EXISTS (SELECT 1 FROM p)", **tables)}),
entry AS (
    INSERT INTO {tables["entry"]} ({_ENTRY_COLUMNS})
    SELECT a.id, 'reserve', -%(cost)s, job.id, %(job_ref)s, '', NULL, NULL, 'system',
        a.balance, %(now)s, %(project_id)s
    FROM a, job WHERE %(cost)s > 0
)
SELECT (SELECT id FROM job), (SELECT balance FROM a)"""  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        job_pk, balance = cursor.fetchone()
    if balance is None:
        return False
    _saved(job, job_pk)
    return True


def _admit_step_by_step(*, job: Job, key: ApiKey, cost: int) -> bool:
    job.save(force_insert=True)
    params = _params(job=job, key=key, cost=cost)
    tables = _tables()
    with connection.cursor() as cursor:
        cursor.execute(_KEY_UPDATE.format(**tables), params)
        if cursor.rowcount != 1:
            return False
        cursor.execute(_PROJECT_UPDATE.format(admitted="1 = 1", **tables), params)
        if cursor.rowcount != 1:
            return False
        cursor.execute(_ACCOUNT_UPDATE.format(admitted="1 = 1", **tables), params)
        row = cursor.fetchone()
    if row is None:
        return False
    account_id, balance = row
    if cost:
        LedgerEntry.objects.create(
            account_id=account_id,
            kind=LedgerEntry.Kind.RESERVE,
            amount=-cost,
            balance_after=balance,
            job=job,
            job_ref=job.job_id,
            project_id=job.project_id,
            actor_label="system",
            created_at=job.created_at,
        )
    return True


def _saved(job: Job, pk: int) -> None:
    job.pk = pk
    job._state.adding = False
    job._state.db = connection.alias


def admission_refusal(*, key: ApiKey, cost: int, now: datetime) -> Exception | None:
    """Return the refusal a submission of ``cost`` credits by ``key`` meets now, or None.

    In the pipeline's order: ``too_many_jobs_in_flight``, ``spend_limit_reached``,
    ``project_spend_limit_reached``, ``org_spend_limit_reached``, ``insufficient_credits``.
    None means the rows have changed since the refused attempt (a job finished meanwhile): the
    caller tries again.
    """
    day, month = spend_periods(now)
    account, _ = CreditAccount.objects.get_or_create(organization_id=key.organization_id)
    plan = Plan.objects.get(organizations__pk=key.organization_id)
    if account.jobs_in_flight >= plan.max_jobs_in_flight:
        return TooManyJobsInFlight(
            f"The {plan.name} plan allows {plan.max_jobs_in_flight} queued and running jobs at "
            "once; retry when one has finished."
        )
    if cost > 0:
        fresh = ApiKey.objects.get(pk=key.pk)
        limit, period = fresh.spend_limit_credits, fresh.spend_limit_period
        if limit is not None:
            spent = {
                ApiKey.SpendPeriod.DAY: fresh.spend_day if fresh.spend_day_start == day else 0,
                ApiKey.SpendPeriod.MONTH: (
                    fresh.spend_month if fresh.spend_month_start == month else 0
                ),
            }.get(period, fresh.spend_total)
            if spent + cost > limit:
                return SpendLimitReached(
                    f"This job reserves {cost} credits; the key has spent {spent} of its "
                    f"{limit}-credit limit for the {period}."
                )
        project = Project.objects.get(project_id=key.project_id)
        if project.monthly_spend_limit is not None:
            spent = project.spent_this_month(month)
            if spent + cost > project.monthly_spend_limit:
                return ProjectSpendLimitReached(
                    f"This job reserves {cost} credits; the key's project has spent {spent} of "
                    f"its {project.monthly_spend_limit}-credit limit for this month."
                )
        org_limit = account.monthly_spend_limit
        spent = account.spend_month if account.spend_month_start == month else 0
        if org_limit is not None and spent + cost > org_limit:
            return OrgSpendLimitReached(
                f"This job reserves {cost} credits; the organization has spent {spent} of "
                f"its {org_limit}-credit limit for this month."
            )
    if account.balance < cost:
        return InsufficientCredits(
            f"This job costs {cost} credit{'s' if cost != 1 else ''}; the organization has "
            f"{account.balance}."
        )
    return None


def counters_job_left_flight(job: Job) -> None:
    """Count ``job`` out of its organization's jobs in flight; call in the transaction that
    moved it to a terminal status."""
    CreditAccount.objects.filter(organization_id=job.organization_id).update(
        jobs_in_flight=F("jobs_in_flight") - 1
    )


def counters_job_back_in_flight(job: Job) -> None:
    """Count a failed ``job`` queued again (a support retry, which reserves nothing)."""
    CreditAccount.objects.filter(organization_id=job.organization_id).update(
        jobs_in_flight=F("jobs_in_flight") + 1
    )
