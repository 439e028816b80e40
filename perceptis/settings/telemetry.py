"""Logs, metrics and error reports; Sentry starts here, the one place it is started."""

from perceptis.sentry import sentry_start
from perceptis.settings.base import PERCEPTIS_ENVIRONMENT, env

# One console handler; every line has the request id and no key. LOG_FORMAT=json: each record
# is one JSON object (perceptis.logformat).
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOG_FORMAT = env.str("LOG_FORMAT", default="plain").lower()
LOGGING = {
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
            "formatter": "json" if LOG_FORMAT == "json" else "plain",
            "filters": ["request_id", "redact_keys"],
        },
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # Logs the path of every 4xx, where a client may have pasted a key.
        "django.request": {"filters": ["redact_keys"]},
    },
}

# The bearer token Prometheus sends to /metrics; unset, /metrics answers 404.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
METRICS_COLLECTORS = ["jobs.metrics.collect"]

# Unset: off. Set: errors go to Sentry, with keys redacted from every event.
SENTRY_DSN = env.str("SENTRY_DSN", default="")
if SENTRY_DSN:
    sentry_start(dsn=SENTRY_DSN, environment=PERCEPTIS_ENVIRONMENT)
