"""The project's shape: the environment, apps, middleware, templates, static files and email."""

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=True)

# Which environment this deployment serves: a key of another environment is refused.
PERCEPTIS_ENVIRONMENT = env.str("PERCEPTIS_ENVIRONMENT", default="production")
if PERCEPTIS_ENVIRONMENT not in ("production", "staging", "development"):
    raise ImproperlyConfigured("PERCEPTIS_ENVIRONMENT must be production, staging or development.")

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
    "exposure",
    "jobs",
    "alerts",
    # The front door: sign-in (django-allauth), two-factor, sessions and headers (django-csp).
    # After the project's apps: of two apps with a template or a command of one name, the
    # earlier wins, and that is ours.
    "django.contrib.humanize",  # allauth's sessions page
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "allauth.usersessions",
    "csp",
]

MIDDLEWARE = [
    # Before anything that may answer: every response, refusals included, has a request id,
    # is measured and metered, passes the request guard and carries its rate-limit headers.
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
    # The front door, last: each needs the session, the user and the current organization,
    # which the ones above set.
    "csp.middleware.CSPMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "allauth.usersessions.middleware.UserSessionsMiddleware",
    "accounts.middleware.SessionLifetimeMiddleware",
    "accounts.middleware.TwoFactorRequiredMiddleware",
    "accounts.middleware.SignedInNoStoreMiddleware",
]

ROOT_URLCONF = "perceptis.urls"
WSGI_APPLICATION = "perceptis.wsgi.application"
ASGI_APPLICATION = "perceptis.asgi.application"

# Sentence case for the sign-in library's English texts (locale/en/LC_MESSAGES/django.po).
LOCALE_PATHS = [BASE_DIR / "locale"]
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

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "en-us"
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
# The site's address for links in emails (exposed keys, expiry warnings).
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000")
# The folder of django.core.mail.backends.filebased.EmailBackend (one file per message).
EMAIL_FILE_PATH = env.str("EMAIL_FILE_PATH", default=None)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Perceptis <alerts@perceptis.local>")
