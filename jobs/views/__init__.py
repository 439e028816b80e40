"""Developer Settings pages of jobs: spend and limits (``spend.py``), the jobs (``jobs.py``)."""

from jobs.views.jobs import job_cancel_page, job_detail, job_list  # noqa: F401
from jobs.views.spend import key_spend_limit, ledger_csv, org_spend_limit, spend  # noqa: F401
