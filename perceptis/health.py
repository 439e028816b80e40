"""Health endpoints for load balancers and orchestrators.

- ``GET /healthz``: liveness. The process answers; no database, cache or queue is touched, so a
  database outage does not get every web process restarted.
- ``GET /readyz``: readiness, as JSON: ``{"status": "ok" | "unavailable", "checks": {"database",
  "cache", "queue"}}``. 503 when the database or the cache does not answer; the queue check
  reports the backlog (tasks waiting) of the worker queue and the outbound queue.

Both are public and never redirected to HTTPS (``SECURE_REDIRECT_EXEMPT``).
"""

import logging
import time

from django.core.cache import cache
from django.db import connection
from django.http import HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache

from perceptis.queues import OUTBOUND_CLUSTER

logger = logging.getLogger(__name__)


@never_cache
def healthz(request):
    return HttpResponse("ok", content_type="text/plain")


def _timed(check) -> dict:
    started = time.perf_counter()
    try:
        result = {"ok": True, **(check() or {})}
    except Exception as exc:
        logger.warning("Readiness check failed: %s", type(exc).__name__)
        result = {"ok": False, "error": type(exc).__name__}
    result["ms"] = round((time.perf_counter() - started) * 1000, 1)
    return result


def _database():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def _cache():
    probe = "readyz:probe"
    cache.set(probe, "1", 10)
    if cache.get(probe) != "1":
        raise RuntimeError("cache read back nothing")


def queue_backlog() -> dict:
    """Return the tasks waiting in the worker queue and in the outbound queue."""
    from django_q.brokers import get_broker
    from django_q.conf import Conf

    return {
        "backlog": get_broker(Conf.PREFIX).queue_size(),
        "outbound_backlog": get_broker(OUTBOUND_CLUSTER).queue_size(),
    }


@never_cache
def readyz(request):
    checks = {
        "database": _timed(_database),
        "cache": _timed(_cache),
        "queue": _timed(queue_backlog),
    }
    ready = checks["database"]["ok"] and checks["cache"]["ok"]
    body = {"status": "ok" if ready else "unavailable", "checks": checks}
    return JsonResponse(body, status=200 if ready else 503)
