"""django-q2 task entry points. They only call services; the Job row holds the state."""

from jobs.services import job_run, jobs_reconcile


def run_job(job_id: str):
    return job_run(job_id=job_id)


def reconcile_jobs():
    return jobs_reconcile()
