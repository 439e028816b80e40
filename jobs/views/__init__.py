"""Developer Settings pages of jobs: spend and limits (``spend.py``), the jobs (``jobs.py``),
usage and costs (``usage.py``)."""

from jobs.views.jobs import job_cancel_page, job_detail, job_list  # noqa: F401
from jobs.views.spend import key_spend_limit, ledger_csv, org_spend_limit, spend  # noqa: F401
from jobs.views.usage import usage, usage_costs_csv  # noqa: F401
