"""Settings for the Perceptis API platform, read from the environment.

The defaults run on one machine with nothing installed: an SQLite file, a local-memory cache
and django-q2's ORM broker. Production sets ``DATABASE_URL`` (PostgreSQL), ``REDIS_URL``,
``SECRET_KEY``, ``ALLOWED_HOSTS`` and ``DEBUG=False``.
"""

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from perceptis import caching, configuration
from perceptis.openapi import config as openapi_config

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=True)

_DEV_SECRET_KEY = "dev-only-insecure-secret-key-change-me-in-production-0123456789"
SECRET_KEY = env.str("SECRET_KEY", default=_DEV_SECRET_KEY if DEBUG else "")
if not SECRET_KEY:
    raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG=False.")

ALLOWED_HOSTS = env.list(
    "ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"] if DEBUG else []
)
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_q",
    "perceptis",
    "accounts",
    "apikeys",
    "billing",
    "webhooks",
    "jobs",
]

MIDDLEWARE = [
    "perceptis.middleware.RequestIdMiddleware",
    "perceptis.metrics.MetricsMiddleware",
    "apikeys.usage.middleware.UsageMiddleware",
    "perceptis.guard.RequestGuardMiddleware",
    "apikeys.keys.pipeline.RateLimitHeadersMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "accounts.middleware.CurrentOrganizationMiddleware",
]

ROOT_URLCONF = "perceptis.urls"
WSGI_APPLICATION = "perceptis.wsgi.application"
ASGI_APPLICATION = "perceptis.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.organization",
            ],
            "libraries": {
                "usage": "apikeys.usage.templatetags",
                "browsers": "accounts.browsers",
            },
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web process and the worker share one SQLite file: WAL lets readers run beside the
    # writer, IMMEDIATE transactions take the write lock up front instead of failing on upgrade.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 30,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
    # Tests get a file, not an in-memory database, so that processes the tests start (a worker,
    # a web server, several clients) see the same data, as a worker beside the web process does.
    DATABASES["default"]["TEST"] = {
        "NAME": env.str("SQLITE_TEST_NAME", default=str(BASE_DIR / "test-db.sqlite3"))
    }
# Persistent connections: opening one (and its SQLite pragmas) outweighs a request's queries.
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache ----------------------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
# CACHES, and the Redis hot path: key records, the circuit breaker, per-process fallback limits.
globals().update(caching.cache_settings(env, REDIS_URL))

# --- Security -------------------------------------------------------------------------------
# All on by default once DEBUG is off; each can be turned off for a server that sits behind a
# TLS-terminating proxy that already redirects, or for tests over plain HTTP.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
if env.bool("USE_X_FORWARDED_PROTO", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# Number of proxies in front of the app whose X-Forwarded-For entries are trusted for the
# client IP (IP allowlists, last-used IP). 0 means use REMOTE_ADDR only.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)

# --- Auth: sign-in, two-factor, sessions, CSP (perceptis.configuration.front_door) ----------
INSTALLED_APPS += configuration.FRONT_DOOR_APPS
MIDDLEWARE += configuration.FRONT_DOOR_MIDDLEWARE
ENCRYPTION_KEYS = env.list("ENCRYPTION_KEYS", default=[])  # secrets at rest: perceptis.crypto
AUTHENTICATION_BACKENDS = ["allauth.account.auth_backends.AuthenticationBackend"]
globals().update(
    configuration.front_door(
        idle_seconds=env.int("SESSION_IDLE_TIMEOUT_SECONDS", default=3600),
        absolute_seconds=env.int("SESSION_ABSOLUTE_LIFETIME_SECONDS", default=12 * 3600),
        reauthentication_seconds=env.int("REAUTHENTICATION_TIMEOUT_SECONDS", default=600),
        failures_per_account=env.int("SIGNIN_FAILURES_PER_ACCOUNT", default=5),
        failures_per_ip=env.int("SIGNIN_FAILURES_PER_IP", default=20),
        failure_window_seconds=env.int("SIGNIN_FAILURE_WINDOW_SECONDS", default=15 * 60),
        secure_cookies=SESSION_COOKIE_SECURE,
        trusted_proxy_count=TRUSTED_PROXY_COUNT,
    )
)

# Bodies of API requests are small JSON documents; refuse big ones before parsing.
DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
DATA_UPLOAD_MAX_NUMBER_FIELDS = 1000

# --- I18N / static ------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
# Sentence case for the sign-in library's English texts (locale/en/LC_MESSAGES/django.po).
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
# Only when present: git keeps no empty directory, and a missing one fails the deploy check.
STATICFILES_DIRS = [d for d in [BASE_DIR / "perceptis" / "static"] if d.is_dir()]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = env.bool("WHITENOISE_USE_FINDERS", default=DEBUG)
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Perceptis <alerts@perceptis.local>")
ACCOUNTS_INVITATION_DAYS = env.int("ACCOUNTS_INVITATION_DAYS", default=7)  # invitation links

# --- REST framework ---------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["apikeys.keys.authentication.ApiKeyAuthentication"],
    # The request pipeline, in order (apikeys.keys.pipeline): every API view gets all of it.
    "DEFAULT_PERMISSION_CLASSES": [
        "apikeys.keys.pipeline.KeyAccess",
        "apikeys.keys.pipeline.HasKeyPermission",
    ],
    "DEFAULT_THROTTLE_CLASSES": ["apikeys.keys.pipeline.KeyRateLimit"],
    "DEFAULT_PARSER_CLASSES": ["perceptis.parsers.StrictJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "EXCEPTION_HANDLER": "perceptis.errors.api_exception_handler",
    # Errors, headers, tags and links of every operation from one place (perceptis.openapi).
    "DEFAULT_SCHEMA_CLASS": "perceptis.openapi.schema.ApiAutoSchema",
    "UNAUTHENTICATED_USER": None,
    "DATETIME_FORMAT": "iso-8601",
}
# The OpenAPI schema: perceptis/openapi/config.py.
SPECTACULAR_SETTINGS = openapi_config.SPECTACULAR_SETTINGS

# --- API keys ---------------------------------------------------------------------------------
# The pepper keys the HMAC that stores API keys (derived from SECRET_KEY unless set). Each stored
# hash names its pepper's id; retired peppers ("id=secret,...") still verify the keys they made.
API_KEY_PEPPER = env.str("API_KEY_PEPPER", default="") or f"apikey-pepper:{SECRET_KEY}"
API_KEY_PEPPER_ID = env.str("API_KEY_PEPPER_ID", default="1")
API_KEY_RETIRED_PEPPERS = env.dict("API_KEY_RETIRED_PEPPERS", default={})
PERCEPTIS_ENVIRONMENT = env.str("PERCEPTIS_ENVIRONMENT", default="production")
if PERCEPTIS_ENVIRONMENT not in ("production", "staging", "development"):
    raise ImproperlyConfigured("PERCEPTIS_ENVIRONMENT must be production, staging or development.")
APIKEYS_LAST_USED_INTERVAL_SECONDS = 60
APIKEYS_MAX_ROTATION_GRACE_SECONDS = 7 * 24 * 3600
APIKEYS_TEST_DAILY_QUOTA = env.int("APIKEYS_TEST_DAILY_QUOTA", default=100)
APIKEYS_RATE_LIMITS_ENABLED = env.bool("APIKEYS_RATE_LIMITS_ENABLED", default=True)
# On PostgreSQL the key lookup is a prepared statement (one per database session). Turn it off
# behind a pooler in transaction mode, where a session's statements do not follow the client.
APIKEYS_PREPARED_KEY_LOOKUP = env.bool("APIKEYS_PREPARED_KEY_LOOKUP", default=True)
# Retention: hourly usage and the request log are purged past these ages (0 keeps them).
APIKEYS_USAGE_RETENTION_DAYS = env.int("APIKEYS_USAGE_RETENTION_DAYS", default=400)
APIKEYS_REQUEST_LOG_RETENTION_DAYS = env.int("APIKEYS_REQUEST_LOG_RETENTION_DAYS", default=30)
# Rows deleted per transaction by the purge: small enough that no lock is held for long.
APIKEYS_PURGE_BATCH_SIZE = env.int("APIKEYS_PURGE_BATCH_SIZE", default=1000)
# Alert delivery: attempts before a delivery is marked failed, and the retry backoff
# (base * 2^(attempt-1), capped), and the wall-clock deadline of one webhook or Slack POST.
APIKEYS_ALERT_MAX_ATTEMPTS = env.int("APIKEYS_ALERT_MAX_ATTEMPTS", default=8)
APIKEYS_ALERT_RETRY_BASE_SECONDS = env.int("APIKEYS_ALERT_RETRY_BASE_SECONDS", default=60)
APIKEYS_ALERT_RETRY_MAX_SECONDS = env.int("APIKEYS_ALERT_RETRY_MAX_SECONDS", default=3600)
APIKEYS_ALERT_TIMEOUT_SECONDS = env.float("APIKEYS_ALERT_TIMEOUT_SECONDS", default=10.0)
# The older name of OUTBOUND_ALLOW_PRIVATE_ADDRESSES (below), kept as an alias; default off.
APIKEYS_ALERT_ALLOW_PRIVATE_URLS = env.bool("APIKEYS_ALERT_ALLOW_PRIVATE_URLS", default=False)
# Usage and request-log records are buffered per process and written at most this many seconds
# after the request (see apikeys.usage.metering), or sooner when the buffer fills.
APIKEYS_USAGE_FLUSH_SECONDS = env.float("APIKEYS_USAGE_FLUSH_SECONDS", default=10.0)
APIKEYS_USAGE_FLUSH_MAX_RECORDS = env.int("APIKEYS_USAGE_FLUSH_MAX_RECORDS", default=500)
# A daemon thread flushes an idle process's buffer; tests turn it off and flush explicitly.
APIKEYS_USAGE_FLUSH_THREAD = env.bool("APIKEYS_USAGE_FLUSH_THREAD", default=True)
# Off: no usage figures and no request log (the hot-path benchmark measures their cost).
APIKEYS_METERING_ENABLED = env.bool("APIKEYS_METERING_ENABLED", default=True)

# --- Jobs -------------------------------------------------------------------------------------
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

# --- Billing ----------------------------------------------------------------------------------
BILLING_DEFAULT_DEMO_CREDITS = 1000

# --- Worker (django-q2) -----------------------------------------------------------------------
Q_CLUSTER = configuration.q_cluster(
    workers=env.int("Q_WORKERS", default=2),
    timeout=env.int("Q_TIMEOUT", default=JOBS_LEASE_SECONDS - 30),
    retry=env.int("Q_RETRY", default=JOBS_LEASE_SECONDS + 60),
    poll=env.float("Q_POLL", default=0.5),
    redis_url=REDIS_URL if env.bool("Q_USE_REDIS_BROKER", default=False) else None,
    lease_seconds=JOBS_LEASE_SECONDS,
)

# --- LOGGING, OUTBOUND_*, WEBHOOKS_*, auth throttle, metrics, Sentry (configuration.edge_settings)
globals().update(configuration.edge_settings(env, APIKEYS_ALERT_ALLOW_PRIVATE_URLS))
