"""Pieces of the settings that are built, not read: worker, logging and front-door config.

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


# The front door: sign-in (django-allauth), two-factor, sessions and headers (django-csp).
FRONT_DOOR_APPS = [
    "django.contrib.humanize",  # allauth's sessions page
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "allauth.usersessions",
    "csp",
]
# Appended after the project's own middleware: each needs the session, the user and the
# current organization, which the earlier ones set.
FRONT_DOOR_MIDDLEWARE = [
    "csp.middleware.CSPMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "allauth.usersessions.middleware.UserSessionsMiddleware",
    "accounts.middleware.SessionLifetimeMiddleware",
    "accounts.middleware.TwoFactorRequiredMiddleware",
    "accounts.middleware.SignedInNoStoreMiddleware",
]

PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]


def front_door(
    *,
    idle_seconds: int,
    absolute_seconds: int,
    reauthentication_seconds: int,
    failures_per_account: int,
    failures_per_ip: int,
    failure_window_seconds: int,
    secure_cookies: bool,
    trusted_proxy_count: int,
) -> dict:
    """Return the settings of sign-in, two-factor, sessions and the Content-Security-Policy.

    A dict of setting names, so ``settings.py`` adds them in one place. Sign-in is by email
    address; there is no public sign-up (operators create people). Failed sign-ins are limited
    per account (the address typed, whether or not it exists) and per client IP; once over,
    the right password is refused too until the window has passed.
    """
    window = f"{failure_window_seconds}s"
    return {
        "AUTH_USER_MODEL": "accounts.User",
        "PASSWORD_HASHERS": [
            "django.contrib.auth.hashers.Argon2PasswordHasher",
            "django.contrib.auth.hashers.PBKDF2PasswordHasher",
        ],
        "AUTH_PASSWORD_VALIDATORS": PASSWORD_VALIDATORS,
        "LOGIN_URL": "account_login",
        "LOGIN_REDIRECT_URL": "developer-settings",
        "LOGOUT_REDIRECT_URL": "account_login",
        "ACCOUNT_ADAPTER": "accounts.signin.AccountAdapter",
        "ACCOUNT_FORMS": {"login": "accounts.forms.LoginForm"},
        "ACCOUNT_LOGIN_METHODS": {"email"},
        "ACCOUNT_SIGNUP_FIELDS": ["email*", "password1*"],
        "ACCOUNT_USER_MODEL_USERNAME_FIELD": None,
        "ACCOUNT_EMAIL_VERIFICATION": "none",
        "ACCOUNT_UNIQUE_EMAIL": True,
        "ACCOUNT_SESSION_REMEMBER": False,
        "ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE": False,
        "ACCOUNT_PREVENT_ENUMERATION": True,
        "ACCOUNT_EMAIL_UNKNOWN_ACCOUNTS": False,
        "ACCOUNT_LOGIN_ON_PASSWORD_RESET": False,
        "ACCOUNT_REAUTHENTICATION_TIMEOUT": reauthentication_seconds,
        "ACCOUNT_RATE_LIMITS": {
            "login_failed": (f"{failures_per_ip}/{window}/ip,{failures_per_account}/{window}/key"),
            "login": "30/m/ip",
            "reset_password": "20/m/ip,5/m/key",
            "reauthenticate": "10/m/user",
        },
        "ALLAUTH_TRUSTED_PROXY_COUNT": trusted_proxy_count,
        "MFA_ADAPTER": "accounts.signin.MfaAdapter",
        "MFA_SUPPORTED_TYPES": ["totp", "recovery_codes"],
        "MFA_TOTP_ISSUER": "Perceptis",
        "MFA_RECOVERY_CODE_COUNT": 10,
        "USERSESSIONS_TRACK_ACTIVITY": False,
        # Idle timeout: the session is saved on every request and expires this long after the
        # last one. The absolute lifetime is SessionLifetimeMiddleware's.
        "SESSION_COOKIE_AGE": idle_seconds,
        "SESSION_SAVE_EVERY_REQUEST": True,
        "SESSION_EXPIRE_AT_BROWSER_CLOSE": False,
        "SESSION_ABSOLUTE_LIFETIME_SECONDS": absolute_seconds,
        # A __Host- cookie is only ever set by this host over HTTPS with Path=/, no Domain.
        "SESSION_COOKIE_NAME": "__Host-sessionid" if secure_cookies else "sessionid",
        "CSRF_COOKIE_NAME": "__Host-csrftoken" if secure_cookies else "csrftoken",
        "CONTENT_SECURITY_POLICY": {
            "DIRECTIVES": {
                "default-src": ["'self'"],
                "script-src": ["'self'"],
                "style-src": ["'self'"],
                # The two-factor set-up page draws its QR code as a data: URI.
                "img-src": ["'self'", "data:"],
                "font-src": ["'self'"],
                "connect-src": ["'self'"],
                "object-src": ["'none'"],
                "base-uri": ["'none'"],
                "frame-ancestors": ["'none'"],
                "form-action": ["'self'"],
            }
        },
    }


def edge_settings(env, allow_private_alias: bool) -> dict:
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
    values.update(webhook_settings(env))
    if values["SENTRY_DSN"]:
        sentry_init(
            values["SENTRY_DSN"], environment=env.str("PERCEPTIS_ENVIRONMENT", "production")
        )
    return values


# Seconds to wait after each failed attempt of an outbound delivery (job webhooks and alerts):
# the Standard Webhooks (Svix) schedule, about 28 hours in all; the delivery fails after the last.
WEBHOOK_RETRY_SCHEDULE = [5, 300, 1800, 7200, 18000, 36000, 36000]


def webhook_settings(env) -> dict:
    """Return the settings of webhooks and the outbound engine (``webhooks``), read from ``env``.

    ``WEBHOOKS_MAX_ENDPOINTS`` (20 per organization), ``WEBHOOKS_RETRY_SCHEDULE_SECONDS`` (the
    waits between attempts, above), ``WEBHOOKS_DEADLINE_SECONDS`` (10, one attempt, wall clock),
    ``WEBHOOKS_REQUIRE_HTTPS`` (on; off only for development receivers on http),
    ``WEBHOOKS_PREVIOUS_SECRET_HOURS`` (24: a rotated-out secret still signs this long) and
    ``WEBHOOKS_RETENTION_DAYS`` (30: delivery records are purged past this age; 0 keeps them),
    ``WEBHOOKS_DISPATCH_SECONDS`` (1: how often ``manage.py dispatch_outbound`` looks for due
    webhook and alert deliveries).
    """
    return {
        "WEBHOOKS_MAX_ENDPOINTS": env.int("WEBHOOKS_MAX_ENDPOINTS", default=20),
        "WEBHOOKS_RETRY_SCHEDULE_SECONDS": [
            int(s)
            for s in env.list("WEBHOOKS_RETRY_SCHEDULE_SECONDS", default=WEBHOOK_RETRY_SCHEDULE)
        ],
        "WEBHOOKS_DEADLINE_SECONDS": env.float("WEBHOOKS_DEADLINE_SECONDS", default=10.0),
        "WEBHOOKS_REQUIRE_HTTPS": env.bool("WEBHOOKS_REQUIRE_HTTPS", default=True),
        "WEBHOOKS_PREVIOUS_SECRET_HOURS": env.int("WEBHOOKS_PREVIOUS_SECRET_HOURS", default=24),
        "WEBHOOKS_RETENTION_DAYS": env.int("WEBHOOKS_RETENTION_DAYS", default=30),
        "WEBHOOKS_DISPATCH_SECONDS": env.float("WEBHOOKS_DISPATCH_SECONDS", default=1.0),
    }


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
