"""Generation jobs: the engine, the model server and the worker's recovery (``JOBS_…``)."""

from perceptis.settings.base import env

GENERATION_ENGINE = env.str("GENERATION_ENGINE", default="jobs.engines.DevelopmentEngine")
OPENAI_BASE_URL = env.str("OPENAI_BASE_URL", default="http://127.0.0.1:8001/v1")
OPENAI_API_KEY = env.str("OPENAI_API_KEY", default="")
OPENAI_MODEL = env.str("OPENAI_MODEL", default="gpt-4o-mini")
OPENAI_TIMEOUT_SECONDS = env.float("OPENAI_TIMEOUT_SECONDS", default=30.0)
OPENAI_MAX_RETRIES = env.int("OPENAI_MAX_RETRIES", default=2)

JOBS_MAX_ATTEMPTS = env.int("JOBS_MAX_ATTEMPTS", default=3)
# A claimed job's lease: a worker that has not finished by then is presumed dead.
JOBS_LEASE_SECONDS = env.int("JOBS_LEASE_SECONDS", default=300)
# A queued job not picked up for this long is enqueued again by the reconciler.
JOBS_REQUEUE_AFTER_SECONDS = env.int("JOBS_REQUEUE_AFTER_SECONDS", default=120)
JOBS_IDEMPOTENCY_WINDOW_SECONDS = 24 * 3600
JOBS_MAX_PROMPT_CHARS = env.int("JOBS_MAX_PROMPT_CHARS", default=32000)
# Finished jobs (succeeded, failed, canceled) are purged this many days after they finished;
# 0 keeps them forever. Their ledger entries stay, with the job's id in ``job_ref``.
JOBS_RETENTION_DAYS = env.int("JOBS_RETENTION_DAYS", default=90)
