"""A submission's writes: one prepared statement on PostgreSQL that commits on its own and
writes nothing when a cap refuses; its queue row is the message django-q2 would write."""

import pytest
from django.db import connection, connections, transaction
from django_q.signing import SignedPackage

from accounts.models import Project
from accounts.projects.services import project_create
from apikeys.keys.models import ApiKey
from billing.models import CreditAccount, LedgerEntry
from billing.services import credits_spend_limit_set
from jobs.models import Job
from jobs.services import job_submit
from jobs.services.queue import RUN_JOB, queue_row
from tests.helpers import SYSTEM, requires_postgres

# gpt-4o, "p", max_tokens 1000: 5 credits reserved each.
FIVE = {"model": "gpt-4o", "max_tokens": 1000}


def counters(org, key):
    """Every row a submission moves or writes, as numbers."""
    key = ApiKey.objects.get(pk=key.pk)
    account = CreditAccount.objects.get(organization=org)
    return {
        "jobs": Job.objects.filter(organization=org).count(),
        "ledger": LedgerEntry.objects.filter(account=account).count(),
        "queue": _queue_rows(),
        "key": (key.spend_day, key.spend_month, key.spend_total),
        "projects": sorted(
            Project.objects.filter(organization=org).values_list("spend_month", flat=True)
        ),
        "account": (account.balance, account.jobs_in_flight, account.spend_month),
    }


def _queue_rows() -> int:
    from django_q.models import OrmQ

    return OrmQ.objects.count()


def _statements(captured) -> list[str]:
    return [q["sql"] for q in captured.captured_queries if "SAVEPOINT" not in q["sql"].upper()]


@pytest.mark.parametrize(
    "limits, code",
    [
        ({"key": 4}, "spend_limit_reached"),
        ({"project": 4}, "project_spend_limit_reached"),
        ({"org": 4}, "org_spend_limit_reached"),
        ({"credits": 4}, "insufficient_credits"),
        ({"in_flight": 0}, "too_many_jobs_in_flight"),
    ],
)
def test_a_refusal_by_any_cap_moves_no_counter_and_writes_no_row(make_org, make_key, limits, code):
    """The caps before the refusing one must not keep their move (the key's spend when the
    organization refuses, for example)."""
    org = make_org(credits=limits.get("credits", 100))
    web = project_create(
        organization=org, name="Web", monthly_spend_limit=limits.get("project"), actor=SYSTEM
    )
    key, _ = make_key(org, project=web, spend_limit_credits=limits.get("key"))
    if "org" in limits:
        credits_spend_limit_set(organization=org, monthly_limit=limits["org"], actor=SYSTEM)
    if "in_flight" in limits:
        org.plan.max_jobs_in_flight = limits["in_flight"]
        org.plan.save()
        key = ApiKey.objects.select_related("organization__plan").get(pk=key.pk)
    before = counters(org, key)

    with pytest.raises(Exception) as refused:
        job_submit(key=key, prompt="p", options=FIVE)

    assert refused.value.code == code
    assert counters(org, key) == before


def test_an_admitted_submission_moves_every_counter_once(org, make_key):
    web = project_create(organization=org, name="Web", monthly_spend_limit=50, actor=SYSTEM)
    key, _ = make_key(org, project=web, spend_limit_credits=50)
    before = counters(org, key)

    job = job_submit(key=key, prompt="p", options=FIVE).job

    after = counters(org, key)
    assert after["jobs"] == before["jobs"] + 1
    assert after["ledger"] == before["ledger"] + 1
    assert after["queue"] == before["queue"] + 1
    assert after["key"] == tuple(spent + 5 for spent in before["key"])
    assert sum(after["projects"]) == sum(before["projects"]) + 5
    balance, in_flight, month = before["account"]
    assert after["account"] == (balance - 5, in_flight + 1, month + 5)
    reserve = LedgerEntry.objects.get(job=job)
    assert (reserve.amount, reserve.balance_after) == (-5, balance - 5)
    assert reserve.project_id == web.project_id


def test_the_queue_row_is_the_message_async_task_writes(org, live_key):
    """Built without django-q2's insert, the row must still be what its cluster reads."""
    from django_q.models import OrmQ
    from django_q.tasks import async_task

    job = job_submit(key=live_key[0], prompt="p").job
    ours = SignedPackage.loads(queue_row(job).payload)
    with transaction.atomic():
        async_task(RUN_JOB, job.job_id, task_name=f"job {job.job_id}", group="jobs")
        theirs = SignedPackage.loads(OrmQ.objects.order_by("-id").first().payload)

    assert ours.keys() == theirs.keys()
    for varying in ("id", "started"):
        assert type(ours.pop(varying)) is type(theirs.pop(varying))
    assert ours == theirs
    assert ours["func"] == RUN_JOB and ours["args"] == (job.job_id,)


def test_with_django_q_sync_the_job_is_enqueued_the_usual_way(org, live_key, settings):
    from django_q.conf import Conf

    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "sync": True}
    original, Conf.SYNC = Conf.SYNC, True
    try:
        job = Job(job_id="job_" + "a" * 24)
        assert queue_row(job) is None
    finally:
        Conf.SYNC = original


@requires_postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_on_postgresql_a_submission_is_one_statement_that_commits_on_its_own(org, live_key):
    from django.test.utils import CaptureQueriesContext

    key, _ = live_key
    job_submit(key=key, prompt="prepare the statement on this session")
    with CaptureQueriesContext(connection) as captured:
        job = job_submit(key=key, prompt="p").job

    statements = _statements(captured)
    assert len(statements) == 1, statements
    assert statements[0].startswith("EXECUTE perceptis_job_submit")
    assert not connection.in_atomic_block
    # Committed: another session sees the job and its message.
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT status FROM jobs_job WHERE job_id = %s", [job.job_id])
            assert cursor.fetchone() == ("queued",)
    finally:
        other.close()


@requires_postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_statement_is_prepared_again_on_a_new_database_session(org, live_key):
    key, _ = live_key
    job_submit(key=key, prompt="first session")
    connection.close()  # a new session has none of the old one's prepared statements

    job = job_submit(key=key, prompt="second session").job

    assert Job.objects.filter(pk=job.pk, status=Job.Status.QUEUED).exists()


@requires_postgres
def test_without_prepared_statements_the_same_statement_runs_as_sql(org, live_key, settings):
    from django.test.utils import CaptureQueriesContext

    settings.DATABASE_PREPARED_STATEMENTS = False
    key, _ = live_key
    job_submit(key=key, prompt="read the price table")
    before = counters(org, key)
    with CaptureQueriesContext(connection) as captured:
        job_submit(key=key, prompt="p")

    statements = _statements(captured)
    assert len(statements) == 1, statements
    [statement] = statements
    assert statement.startswith("WITH k0 AS (SELECT 1 FROM")
    assert counters(org, key)["jobs"] == before["jobs"] + 1


@requires_postgres
def test_inside_a_transaction_a_reused_idempotency_key_leaves_it_usable(org, live_key):
    """Under a caller's transaction the statement runs in a savepoint: the unique violation
    of a replay does not abort the caller's work."""
    key, _ = live_key
    with transaction.atomic():
        first = job_submit(key=key, prompt="p", idempotency_key="same").job
        again = job_submit(key=key, prompt="p", idempotency_key="same")
        assert again.replayed and again.job.pk == first.pk
        assert Job.objects.filter(api_key=key).count() == 1


@requires_postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_submission_waiting_for_the_account_does_not_block_foreign_key_checks(org, live_key):
    """A worker settling a job holds the account and, at its commit, checks its ledger row's
    foreign keys (the project's row among them): the waiting submission, which has locked the
    key and the project, must not block that check, or the two deadlock."""
    import threading
    import time

    from django.db import connections
    from django.db.models import F

    key, _ = live_key
    job_submit(key=key, prompt="the price table and the prepared statement")
    project = key.project_id
    outcome = {}

    def submit():
        try:
            outcome["job"] = job_submit(key=key, prompt="waits for the account").job
        except Exception as error:  # asserted below
            outcome["error"] = error
        finally:
            connections.close_all()

    with transaction.atomic():
        # The worker's settlement: the account first.
        CreditAccount.objects.filter(organization=org).update(balance=F("balance"))
        submitter = threading.Thread(target=submit)
        submitter.start()
        watcher = connections.create_connection("default")
        try:
            for _ in range(100):  # until the submission waits for the account's row
                with watcher.cursor() as cursor:
                    cursor.execute(
                        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                        "AND query LIKE 'EXECUTE perceptis_job_submit%%'"
                    )
                    waiting = cursor.fetchone()[0] == 1
                if waiting:
                    break
                time.sleep(0.05)
        finally:
            watcher.close()
        assert waiting
        # What the settlement's ledger row checks at commit: the project's row, for key share.
        with connection.cursor() as cursor:
            cursor.execute(
                "SET LOCAL lock_timeout = '5s'; "
                "SELECT 1 FROM accounts_project WHERE project_id = %s FOR KEY SHARE",
                [project],
            )
    submitter.join(timeout=30)

    assert "error" not in outcome, outcome
    assert Job.objects.filter(pk=outcome["job"].pk).exists()
