"""Admitting a submission: every cap, limit and write of a new job in one statement.

A submission is decided on three rows, never on a sum of jobs: the key's row carries what its
jobs spent per UTC day, calendar month and in total (``ApiKey.spend_*``), the key's project's
row its month's spend (``Project.spend_month``), and the organization's credit account its
balance, its jobs in flight and its month's spend (``CreditAccount``). One conditional
``UPDATE`` of each row checks and moves them, and on PostgreSQL those three ``UPDATE``\\ s, the
job's ``INSERT``, the ledger's reserve row and the worker's queue row are one statement
(data-modifying CTEs), which commits on its own: the rows are locked by that statement and
released at its end, so one organization's submissions queue on its row for one statement, not
for a whole request, and a submission is one round trip to the database. Each ``UPDATE``'s
condition is re-checked by PostgreSQL on the row's newest version after a wait, so no two
submissions can both take the last credit, the last job slot or the last of a spend limit. The
inserts run only when all three matched. SQLite serializes writers anyway: there the same
``UPDATE``\\ s run one after the other in the submission's transaction.

A refusal writes nothing (on SQLite the caller's transaction rolls back): ``admission_refusal``
then reads the rows again and names the first cap the job is past, in the pipeline's order.

Workers keep the counters: ``counters_job_left_flight`` when a job reaches a terminal status
(same transaction), ``billing.services`` when a settlement returns credits (spend is what a job
holds while queued or running and what it was charged once finished, as
``jobs.selectors.spend_for_key`` sums it). Rows are always locked job, key, project, then
account; a submission locks no job (it inserts its own after the account).
"""

import functools
from dataclasses import dataclass
from datetime import datetime

from django.db import connection, transaction
from django.db.models import F
from django_q.models import OrmQ

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
from jobs.services.queue import QueueRow
from perceptis.db import PreparedStatement


def _tables() -> dict:
    return {
        "key": ApiKey._meta.db_table,
        "account": CreditAccount._meta.db_table,
        "entry": LedgerEntry._meta.db_table,
        "project": Project._meta.db_table,
    }


# The spend of a key's day, and of a key's, a project's or an account's month, before this job.
_DAY_SPENT = "CASE WHEN spend_day_start = %(day)s THEN spend_day ELSE 0 END"
_MONTH_SPENT = "CASE WHEN spend_month_start = %(month)s THEN spend_month ELSE 0 END"
# The key's spend in its limit's period, before this job.
_KEY_SPENT = f"""CASE spend_limit_period
    WHEN 'day' THEN {_DAY_SPENT}
    WHEN 'month' THEN {_MONTH_SPENT}
    ELSE spend_total END"""


@dataclass(frozen=True)
class _Cap:
    """One row a submission moves: which row, what must hold for the job, and the move.

    Its SQL is built from table names and these fixed texts only; every value is a parameter.
    """

    table: str
    row: str
    check: str
    move: str

    def checked_update(self, tables: dict) -> str:
        """The conditional ``UPDATE``: it matches (and moves the row) only if the job fits."""
        table = tables[self.table]
        return f"UPDATE {table} SET {self.move}\nWHERE {self.row} AND {self.check}"  # noqa: S608

    def lock(self, tables: dict, *, after: str | None = None) -> str:
        """The row, locked, if the job fits it (and ``after``, a CTE, has a row).

        Locked as its ``UPDATE`` will (``FOR NO KEY UPDATE``): ``FOR UPDATE`` would also block
        the foreign-key checks of other transactions' rows that point at it (a worker's ledger
        row naming the project), which wait at their commit while holding the account.
        """
        also = f" AND EXISTS (SELECT 1 FROM {after})" if after else ""  # noqa: S608
        return (
            f"SELECT 1 FROM {tables[self.table]}\n"  # noqa: S608
            f"WHERE {self.row}{also} AND {self.check}\nFOR NO KEY UPDATE"
        )

    def update(self, tables: dict, *, when: str) -> str:
        """The move, made if ``when``, a CTE, has a row."""
        return (
            f"UPDATE {tables[self.table]} SET {self.move}\n"  # noqa: S608
            f"WHERE {self.row} AND EXISTS (SELECT 1 FROM {when})"
        )


_KEY, _PROJECT, _ACCOUNT = (
    _Cap(
        table="key",
        row="id = %(key_id)s",
        check=f"""(%(cost)s = 0 OR spend_limit_credits IS NULL
         OR {_KEY_SPENT} + %(cost)s <= spend_limit_credits)""",
        move=f"""spend_day = {_DAY_SPENT} + %(cost)s,
    spend_day_start = %(day)s,
    spend_month = {_MONTH_SPENT} + %(cost)s,
    spend_month_start = %(month)s,
    spend_total = spend_total + %(cost)s""",
    ),
    _Cap(
        table="project",
        row="project_id = %(project_id)s",
        check=f"""(%(cost)s = 0 OR monthly_spend_limit IS NULL
         OR {_MONTH_SPENT} + %(cost)s <= monthly_spend_limit)""",
        move=f"""spend_month = {_MONTH_SPENT} + %(cost)s,
    spend_month_start = %(month)s""",
    ),
    _Cap(
        table="account",
        row="organization_id = %(organization_id)s",
        check=f"""balance >= %(cost)s
    AND jobs_in_flight < (
        SELECT p.max_jobs_in_flight
        FROM {Plan._meta.db_table} p JOIN {Organization._meta.db_table} o ON o.plan_id = p.id
        WHERE o.id = %(organization_id)s)
    AND (%(cost)s = 0 OR monthly_spend_limit IS NULL
         OR {_MONTH_SPENT} + %(cost)s <= monthly_spend_limit)""",  # noqa: S608
        move=f"""balance = balance - %(cost)s,
    jobs_in_flight = jobs_in_flight + 1,
    spend_month = {_MONTH_SPENT} + %(cost)s,
    spend_month_start = %(month)s""",
    ),
)


_ENTRY_COLUMNS = (
    "account_id, kind, amount, job_id, job_ref, reason, period, actor_user_id, actor_label, "
    "balance_after, created_at, project_id"
)


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


def admission_insert(*, job: Job, key: ApiKey, cost: int, queued: QueueRow | None = None) -> bool:
    """Insert ``job`` and take its place under every cap; return False when a cap refuses it.

    On PostgreSQL this is one statement, which writes nothing when a cap refuses the job:
    outside a transaction it commits on its own (a submission's one round trip to the
    database); inside one, it runs under a savepoint. ``queued``, the worker's queue row for the
    job (``jobs.services.queue.queue_row``), is written by the same statement.

    On SQLite call it inside the submission's transaction and roll that back on False (the job
    row and the key's counters are written before the refusal is known); ``queued`` is not
    taken there (``enqueue`` it in that transaction).

    A reused Idempotency-Key raises ``IntegrityError`` from the job's unique constraint, on
    PostgreSQL only when the caps admit the job. On success ``job`` has its primary key and the
    ledger its reserve row (when ``cost``).
    """
    if connection.vendor == "postgresql":
        if connection.in_atomic_block:
            # A failed statement would abort the caller's transaction: the savepoint keeps it.
            with transaction.atomic():
                return _admit_in_one_statement(job=job, key=key, cost=cost, queued=queued)
        return _admit_in_one_statement(job=job, key=key, cost=cost, queued=queued)
    if queued is not None:
        raise ValueError("On SQLite the job is enqueued in the submission's transaction.")
    return _admit_step_by_step(job=job, key=key, cost=cost)


def _admit_in_one_statement(*, job: Job, key: ApiKey, cost: int, queued: QueueRow | None) -> bool:
    values = _params(job=job, key=key, cost=cost)
    values.update(_job_values(job))
    if queued is not None:
        values.update(q_key=queued.key, q_payload=queued.payload, q_lock=queued.lock)
    with connection.cursor() as cursor:
        _one_statement(queued=queued is not None).execute(connection, cursor, values)
        job_pk, balance = cursor.fetchone()
    if job_pk is None:
        return False
    _saved(job, job_pk)
    return True


@functools.cache
def _one_statement(*, queued: bool) -> PreparedStatement:
    """The submission's statement: the caps' ``UPDATE``\\ s first (key, project, account, each
    only if the one before matched), then, only if all matched, the job, its ledger row and
    (``queued``) its queue row. It answers the job's id and the account's new balance, both
    NULL when a cap refused the job. Prepared: planning it costs as much as running it."""
    tables = _tables()
    fields = _job_fields()
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    values = ", ".join(f"%(j{i})s" for i in range(len(fields)))
    params = [
        ("cost", _db_type(CreditAccount, "balance")),
        ("day", "date"),
        ("month", "date"),
        ("key_id", _db_type(ApiKey, "id")),
        ("organization_id", _db_type(CreditAccount, "organization")),
        ("project_id", _db_type(Job, "project")),
        ("job_ref", _db_type(LedgerEntry, "job_ref")),
        ("now", _db_type(LedgerEntry, "created_at")),
    ]
    params += [(f"j{i}", field.db_type(connection)) for i, field in enumerate(fields)]
    queue = ""
    if queued:
        queue = f""",
queued AS (
    INSERT INTO {OrmQ._meta.db_table} (key, payload, lock)
    SELECT %(q_key)s, %(q_payload)s, %(q_lock)s FROM job
)"""  # noqa: S608
        params += [(f"q_{name}", _db_type(OrmQ, name)) for name in ("key", "payload", "lock")]
    # Each cap's row is locked and checked in turn (key, project, account: ``k0``, ``p0``,
    # ``a0``, each read only if the one before passed). A row a concurrent submission holds is
    # waited for and checked again in its newest version. Only when all three passed are they
    # moved, the job inserted and the rest written: a refusal writes nothing.
    # Table and column names only; every value is a parameter.
    sql = f"""WITH k0 AS ({_KEY.lock(tables)}),
p0 AS ({_PROJECT.lock(tables, after="k0")}),
a0 AS ({_ACCOUNT.lock(tables, after="p0")}),
k AS ({_KEY.update(tables, when="a0")}),
p AS ({_PROJECT.update(tables, when="a0")}),
a AS ({_ACCOUNT.update(tables, when="a0")} RETURNING id, balance),
job AS (
    INSERT INTO {Job._meta.db_table} ({columns})
    SELECT {values} FROM a
    RETURNING id
),
entry AS (
    INSERT INTO {tables["entry"]} ({_ENTRY_COLUMNS})
    SELECT a.id, 'reserve', -%(cost)s, job.id, %(job_ref)s, '', NULL, NULL, 'system',
        a.balance, %(now)s, %(project_id)s
    FROM a, job WHERE %(cost)s > 0
){queue}
SELECT (SELECT id FROM job), (SELECT balance FROM a)"""  # noqa: S608
    return PreparedStatement("perceptis_job_submit" + ("_queued" if queued else ""), sql, params)


def _db_type(model, name: str) -> str:
    return model._meta.get_field(name).db_type(connection)


@functools.cache
def _job_fields() -> list:
    return [f for f in Job._meta.concrete_fields if not f.primary_key]


def _job_values(job: Job) -> dict:
    """The job's column values as Django's ``INSERT`` would send them, named ``j0``, ``j1``…"""
    values = {}
    for i, field in enumerate(_job_fields()):
        value = field.pre_save(job, True)
        values[f"j{i}"] = None if value is None else field.get_db_prep_save(value, connection)
    return values


def _admit_step_by_step(*, job: Job, key: ApiKey, cost: int) -> bool:
    job.save(force_insert=True)
    params = _params(job=job, key=key, cost=cost)
    tables = _tables()
    with connection.cursor() as cursor:
        for cap in (_KEY, _PROJECT):
            cursor.execute(cap.checked_update(tables), params)
            if cursor.rowcount != 1:
                return False
        cursor.execute(_ACCOUNT.checked_update(tables) + " RETURNING id, balance", params)
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
                ApiKey.SpendPeriod.DAY: fresh.spent_today(day),
                ApiKey.SpendPeriod.MONTH: fresh.spent_this_month(month),
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
        spent = account.spent_this_month(month)
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
