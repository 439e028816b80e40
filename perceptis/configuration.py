"""Pieces of the settings that are built, not read: the worker and logging configuration.

``perceptis/settings.py`` reads the environment and calls these; they import nothing of Django's
apps, so they are safe to use while settings load.
"""

from django.core.exceptions import ImproperlyConfigured

OUTBOUND_CLUSTER = "outbound"


def q_cluster(
    *,
    workers: int,
    timeout: int,
    retry: int,
    poll: float,
    redis_url: str | None,
    lease_seconds: int,
    outbound_workers: int = 2,
) -> dict:
    """Return django-q2's ``Q_CLUSTER``; refuse timings under which a task could run twice.

    Outbound deliveries (alert webhooks, Slack, job webhooks) run on a cluster of their own,
    ``OUTBOUND_CLUSTER``, with its own queue: ``Q_CLUSTER_NAME=outbound manage.py qcluster``.
    Their schedules name that cluster, so a slow receiver holds only outbound workers and never
    delays a generation job.
    """
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
        "ALT_CLUSTERS": {OUTBOUND_CLUSTER: {"workers": outbound_workers, "label": "Outbound"}},
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


def logging_config(*, level: str, json_lines: bool = False) -> dict:
    """Return ``LOGGING``: one console handler; every line has the request id and no key.

    With ``json_lines`` each record is one JSON object (``perceptis.logformat``).
    """
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "request_id": {"()": "perceptis.middleware.RequestIdLogFilter"},
            "redact_keys": {"()": "perceptis.middleware.RedactApiKeysFilter"},
        },
        "formatters": {
            "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
            "json": {"()": "perceptis.logformat.JsonLinesFormatter"},
        },
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": "json" if json_lines else "plain",
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


def edge_settings(env, *, allow_private_alias: bool) -> dict:
    """Return the logging and production-edge settings read from ``env``.

    ``settings.py`` adds them to its namespace:

    - ``LOGGING``: ``LOG_LEVEL`` (INFO) and ``LOG_FORMAT`` (``plain``, or ``json``: one JSON
      object a line with the request id).
    - ``OUTBOUND_ALLOW_PRIVATE_ADDRESSES`` (off; ``APIKEYS_ALERT_ALLOW_PRIVATE_URLS`` is an alias),
      ``OUTBOUND_ALLOWED_PORTS`` (80, 443), ``OUTBOUND_DEADLINE_SECONDS`` (10, wall clock per
      delivery, body included): the one outbound client, ``perceptis.outbound``.
    - ``APIKEYS_FAILED_AUTH_PER_MINUTE`` (60): failed key checks one address may make a minute.
    - ``APIKEYS_ALERT_MAX_RULES`` (50): alert rules per organization.
    - ``METRICS_TOKEN`` (unset: ``/metrics`` answers 404): the bearer token Prometheus sends.
    - ``SENTRY_DSN`` (unset: off): errors to Sentry, with keys redacted from every event.
    """
    values = {
        "LOGGING": logging_config(
            level=env.str("LOG_LEVEL", default="INFO"),
            json_lines=env.str("LOG_FORMAT", default="plain").lower() == "json",
        ),
        # Answers a CSRF failure under /api/ as JSON; pages keep Django's page.
        "CSRF_FAILURE_VIEW": "perceptis.errors.csrf_failure",
        "OUTBOUND_ALLOW_PRIVATE_ADDRESSES": env.bool(
            "OUTBOUND_ALLOW_PRIVATE_ADDRESSES", default=allow_private_alias
        ),
        "OUTBOUND_ALLOWED_PORTS": [
            int(p) for p in env.list("OUTBOUND_ALLOWED_PORTS", default=["80", "443"])
        ],
        "OUTBOUND_DEADLINE_SECONDS": env.float("OUTBOUND_DEADLINE_SECONDS", default=10.0),
        "APIKEYS_FAILED_AUTH_PER_MINUTE": env.int("APIKEYS_FAILED_AUTH_PER_MINUTE", default=60),
        "APIKEYS_ALERT_MAX_RULES": env.int("APIKEYS_ALERT_MAX_RULES", default=50),
        "METRICS_TOKEN": env.str("METRICS_TOKEN", default=""),
        "METRICS_COLLECTORS": ["jobs.metrics.collect"],
        "SENTRY_DSN": env.str("SENTRY_DSN", default=""),
    }
    if values["SENTRY_DSN"]:
        sentry_init(
            values["SENTRY_DSN"], environment=env.str("PERCEPTIS_ENVIRONMENT", "production")
        )
    return values


def sentry_init(dsn: str, *, environment: str) -> None:
    """Start sentry-sdk with no personal data and every event passed through key redaction."""
    import sentry_sdk
    from sentry_sdk.integrations.django import DjangoIntegration

    from perceptis.redaction import redact_event

    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        integrations=[DjangoIntegration()],
        send_default_pii=False,
        before_send=redact_event,
        before_send_transaction=redact_event,
        before_breadcrumb=lambda crumb, hint: redact_event(crumb, hint),
    )
