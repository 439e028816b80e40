"""Handing a job to the worker: django-q2's message for ``jobs.tasks.run_job``.

With the ORM broker (the default) the message is a row of django-q2's queue table in the same
database as the job, so the job and its message commit together: a submission writes that row
in its own statement (``queue_row``), anything else through django-q2 in its transaction
(``enqueue``). The Redis broker has no such receipt: the message is sent once the job has
committed, and the reconciler enqueues again a queued job whose message was lost in between.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from jobs.models import Job

RUN_JOB = "jobs.tasks.run_job"
GROUP = "jobs"


def _task_name(job: Job) -> str:
    return f"job {job.job_id}"


def uses_orm_broker() -> bool:
    return "orm" in settings.Q_CLUSTER


def enqueue(job: Job) -> None:
    """Send ``job``'s message: in the caller's transaction with the ORM broker, on commit
    with any other."""
    from django_q.tasks import async_task

    def _send():
        async_task(RUN_JOB, job.job_id, task_name=_task_name(job), group=GROUP)

    if uses_orm_broker():
        _send()
    else:
        transaction.on_commit(_send)


@dataclass(frozen=True)
class QueueRow:
    table: str
    key: str
    payload: str
    lock: datetime


def queue_row(job: Job) -> QueueRow | None:
    """Return the ORM broker's queue row for ``job``, for the caller to insert with the job.

    The row is what ``async_task`` would write (the same signed task package, read by the
    same cluster), built without django-q2's own insert so that a submission can write it in
    the statement that creates the job. None when the message cannot be written that way: another
    broker, django-q2's ``sync`` mode (tasks run at once, in the request), or a queue in another
    database than the job's. Use ``enqueue`` then.
    """
    from django_q.conf import Conf
    from django_q.models import OrmQ
    from django_q.signals import pre_enqueue
    from django_q.signing import SignedPackage

    if not uses_orm_broker() or Conf.SYNC or connection.alias != Conf.ORM:
        return None
    # async_task's package: the same keys, with the options it would add from the settings.
    task = {
        "id": uuid.uuid4().hex,
        "name": _task_name(job),
        "func": RUN_JOB,
        "args": (job.job_id,),
        "group": GROUP,
    }
    if Conf.CACHED:
        task["cached"] = Conf.CACHED
    if Conf.ACK_FAILURES:
        task["ack_failure"] = Conf.ACK_FAILURES
    task["kwargs"] = {}
    task["started"] = timezone.now()
    pre_enqueue.send(sender="django_q", task=task)
    return QueueRow(
        table=OrmQ._meta.db_table,
        key=Conf.CLUSTER_NAME,
        payload=SignedPackage.dumps(task),
        lock=task["started"],
    )
