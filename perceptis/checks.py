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
