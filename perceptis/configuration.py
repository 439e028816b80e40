"""Pieces of the settings that are built, not read: the worker and logging configuration.

``perceptis/settings.py`` reads the environment and calls these; they import nothing of Django's
apps, so they are safe to use while settings load.
"""

from django.core.exceptions import ImproperlyConfigured


def q_cluster(
    *,
    workers: int,
    timeout: int,
    retry: int,
    poll: float,
    redis_url: str | None,
    lease_seconds: int,
) -> dict:
    """Return django-q2's ``Q_CLUSTER``; refuse timings under which a task could run twice."""
    cluster = {
        "name": "perceptis",
        "workers": workers,
        "timeout": timeout,
        "retry": retry,
        "max_attempts": 1,
        "queue_limit": 50,
        "bulk": 10,
        "orm": "default",
        "poll": poll,
        "catch_up": False,
        "save_limit": 1000,
        "ack_failures": True,
        "label": "Worker",
    }
    if redis_url:
        # Redis has no delivery receipts: jobs are enqueued on commit and the reconciler covers
        # any message lost in between.
        cluster.pop("orm")
        cluster["redis"] = redis_url
    if retry <= timeout:
        raise ImproperlyConfigured("Q_RETRY must be greater than Q_TIMEOUT, or tasks run twice.")
    if timeout >= lease_seconds:
        raise ImproperlyConfigured("Q_TIMEOUT must be shorter than JOBS_LEASE_SECONDS.")
    return cluster


def logging_config(*, level: str) -> dict:
    """Return ``LOGGING``: one console handler; every line has the request id and no key."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "request_id": {"()": "perceptis.middleware.RequestIdLogFilter"},
            "redact_keys": {"()": "perceptis.middleware.RedactApiKeysFilter"},
        },
        "formatters": {
            "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        },
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": "plain",
                "filters": ["request_id", "redact_keys"],
            },
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            "django.db.backends": {"level": "WARNING"},
            # Logs the path of every 4xx, where a client may have pasted a key.
            "django.request": {"filters": ["redact_keys"]},
        },
    }
