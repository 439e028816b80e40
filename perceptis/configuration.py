"""Pieces of the settings that are built, not read: worker, logging and front-door config.

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
