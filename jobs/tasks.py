"""django-q2 task entry points. They only call services; the Job row holds the state."""

import logging

from django.utils import timezone

from apikeys.keys.services import form_tokens_purge
from apikeys.usage.retention import request_log_purge, usage_purge
from jobs.services import job_run, jobs_purge_finished, jobs_reconcile
from jobs.services.costs import costs_rollup
from jobs.services.recount import counters_audit
from webhooks.retention import webhookdelivery_purge

logger = logging.getLogger(__name__)


def run_job(job_id: str):
    return job_run(job_id=job_id)


def reconcile_jobs():
    return jobs_reconcile()


def roll_up_costs():
    return costs_rollup()


def audit_counters():
    return counters_audit()


def purge_old_data(*, now=None, batch_size: int | None = None) -> dict:
    """Run every retention purge (usage, request log, finished jobs, expired one-time form
    tokens, webhook deliveries); return each one's count.

    It lives here, in the highest app, because it reaches into apps below: usage does not
    import jobs.
    """
    now = now or timezone.now()
    counts = {
        "usage_hourly": usage_purge(now=now, batch_size=batch_size),
        "request_log": request_log_purge(now=now, batch_size=batch_size),
        "jobs": jobs_purge_finished(now=now, batch_size=batch_size),
        "form_tokens": form_tokens_purge(now=now, batch_size=batch_size),
        "webhook_deliveries": webhookdelivery_purge(now=now, batch_size=batch_size),
    }
    if any(counts.values()):
        logger.info("Purged old data: %s", counts)
    return counts
