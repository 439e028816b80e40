"""Prometheus metrics at ``/metrics``, for a scraper that sends ``METRICS_TOKEN`` as a bearer.

- ``perceptis_http_requests_total`` and ``perceptis_http_request_duration_seconds``, by method,
  endpoint (the URL pattern, never the path: a key in a path must not become a label) and
  status; counted by ``MetricsMiddleware``.
- whatever the collectors named in ``METRICS_COLLECTORS`` report when scraped (``jobs.metrics``:
  job queue depth and outcomes, read from the database, so they are the same from any process).

Without ``METRICS_TOKEN`` the endpoint answers 404. With several gunicorn workers, set
``PROMETHEUS_MULTIPROC_DIR`` to an empty directory so the request counters of all workers add up
(prometheus-client's multiprocess mode).
"""

import hmac
import os
import time

from django.conf import settings
from django.http import Http404, HttpResponse
from django.utils.module_loading import import_string
from django.views.decorators.cache import never_cache
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client import REGISTRY as DEFAULT_REGISTRY

REQUESTS = Counter(
    "perceptis_http_requests_total", "HTTP requests served.", ["method", "endpoint", "status"]
)
LATENCY = Histogram(
    "perceptis_http_request_duration_seconds",
    "Time to serve an HTTP request.",
    ["method", "endpoint", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
_METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}


def endpoint_of(request) -> str:
    match = getattr(request, "resolver_match", None)
    if match is None or not match.route:
        return "unmatched"
    return "/" + match.route


class MetricsMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        method = request.method if request.method in _METHODS else "other"
        labels = (method, endpoint_of(request), str(response.status_code))
        REQUESTS.labels(*labels).inc()
        LATENCY.labels(*labels).observe(time.perf_counter() - started)
        return response


class _Collectors:
    """Runs the ``METRICS_COLLECTORS`` at scrape time."""

    def collect(self):
        for path in settings.METRICS_COLLECTORS:
            yield from import_string(path)()


def _registry():
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = DEFAULT_REGISTRY
    return registry


@never_cache
def metrics(request):
    token = settings.METRICS_TOKEN
    if not token:
        raise Http404
    sent = request.META.get("HTTP_AUTHORIZATION", "")
    if not hmac.compare_digest(sent.encode(), f"Bearer {token}".encode()):
        response = HttpResponse("Unauthorized.", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    output = generate_latest(_registry())
    extra = CollectorRegistry(auto_describe=True)
    extra.register(_Collectors())
    output += generate_latest(extra)
    return HttpResponse(output, content_type=CONTENT_TYPE_LATEST)
