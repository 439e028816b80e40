"""System checks for deployment mistakes that Django's own checks do not see."""

from django.conf import settings
from django.core.checks import Tags, Warning, register


@register(Tags.caches)
def check_shared_cache(app_configs, **kwargs):
    """Warn when a production deployment counts rate limits in a process-local cache."""
    backend = settings.CACHES["default"]["BACKEND"]
    if not settings.DEBUG and backend.endswith("LocMemCache"):
        return [
            Warning(
                "The cache is local to each process, so rate limits and quotas are counted per "
                "process.",
                hint="Set REDIS_URL when more than one web process serves the API.",
                id="perceptis.W001",
            )
        ]
    return []


@register(Tags.security, deploy=True)
def check_api_key_pepper(app_configs, **kwargs):
    """Warn when production derives the API-key pepper from SECRET_KEY.

    Then rotating SECRET_KEY (sessions, CSRF) would make every stored key hash unverifiable.
    """
    derived = f"apikey-pepper:{settings.SECRET_KEY}"
    if not settings.DEBUG and derived == settings.API_KEY_PEPPER:
        return [
            Warning(
                "API_KEY_PEPPER is not set: API keys are hashed with a value derived from "
                "SECRET_KEY.",
                hint="Set API_KEY_PEPPER to its own long random secret.",
                id="perceptis.W002",
            )
        ]
    return []
