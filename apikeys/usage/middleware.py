"""The middleware that meters every API request into this process's buffer (``metering``)."""

import json
import logging
import time

from django.conf import settings

from apikeys.keys.pipeline import request_state
from apikeys.usage import metering
from perceptis.clientip import client_ip

logger = logging.getLogger(__name__)

API_PREFIX = "/api/v1/"
_EXCLUDED_PREFIXES = ("/api/v1/schema",)


def _error_code(response) -> str:
    data = getattr(response, "data", None)
    if data is None and response.status_code >= 400:
        # Plain Django JSON errors (unknown endpoints, 500s) carry the same body.
        content_type = response.get("Content-Type", "")
        if content_type.startswith("application/json") and not response.streaming:
            try:
                data = json.loads(response.content[:4096])
            except ValueError:
                data = None
    if isinstance(data, dict):
        error = data.get("error")
        if isinstance(error, dict) and isinstance(error.get("code"), str):
            return error["code"]
    return ""


def _metered(path: str) -> bool:
    return path.startswith(API_PREFIX) and not path.startswith(_EXCLUDED_PREFIXES)


class UsageMiddleware:
    """Meter every API request: usage counters for its key and one request-log row.

    Sits right after ``RequestIdMiddleware`` so that it times nearly the whole request and sees
    the request id; the key and client IP are those the authentication attached.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not settings.APIKEYS_METERING_ENABLED or not _metered(request.path):
            return self.get_response(request)
        started = time.perf_counter()
        response = self.get_response(request)
        latency_ms = (time.perf_counter() - started) * 1000
        try:
            state = request_state(request)
            key = state.key if state is not None else None
            metering.record(
                api_key_id=key.pk if key is not None else None,
                organization_id=key.organization_id if key is not None else None,
                method=request.method or "",
                path=request.path,
                status=response.status_code,
                error_code=_error_code(response),
                latency_ms=latency_ms,
                client_ip=state.client_ip if state is not None else client_ip(request),
                user_agent=request.META.get("HTTP_USER_AGENT", ""),
                request_id=getattr(request, "request_id", ""),
            )
            metering.flush_if_due()
        except Exception:
            # Metering must never break the response it measures.
            logger.exception("Could not meter %s %s", request.method, request.path)
        return response
