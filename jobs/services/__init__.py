"""Submit, run, finish, retry, cancel, reconcile and purge generation jobs.

A job moves queued → running → succeeded | failed, queued → canceled, or running → canceled
when a cancel was requested while it ran. Views, the API, admin, the worker's tasks and tests
call these functions.
"""

from jobs.errors import (  # noqa: F401
    IdempotencyKeyReused,
    JobNotCancelable,
    JobNotFound,
    JobStateConflict,
)
from jobs.services.cancel import job_cancel, job_cancel_finish  # noqa: F401
from jobs.services.execution import (  # noqa: F401
    job_claim,
    job_fail,
    job_requeue,
    job_run,
    job_succeed,
    jobs_reconcile,
)
from jobs.services.queue import enqueue  # noqa: F401
from jobs.services.submission import (  # noqa: F401
    Submission,
    clean_idempotency_key,
    job_get_for_key,
    job_submit,
)
from jobs.services.support import (  # noqa: F401
    job_retry,
    jobs_purge_finished,
)
