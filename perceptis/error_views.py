"""Django's error views (400, 403, 404, 500 and CSRF failure): JSON under ``/api/``.

Django answers these outside any DRF view: a bad ``Host`` header, a URL no route matches, an
unhandled exception. Under ``/api/`` they answer the API's JSON error body
(``perceptis.exception_handler.error_body``); elsewhere Django's own pages.
"""

import logging
import sys

from django.http import HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from perceptis.errors import CONNECTION_ERRORS, ServiceUnavailable
from perceptis.exception_handler import error_body
from perceptis.redaction import scrub

logger = logging.getLogger(__name__)


def json_error_response(
    code: str, message: str, status_code: int, *, headers: dict | None = None
) -> JsonResponse:
    """Return the API's JSON error body outside DRF (Django's views, middleware)."""
    return JsonResponse(error_body(code, message), status=status_code, headers=headers)


def is_api_path(request) -> bool:
    return request.path_info.startswith("/api/")


def handler400(request, exception=None):
    # Django answers ``DisallowedHost``, bad headers and other ``SuspiciousOperation``s here.
    if is_api_path(request):
        return json_error_response("invalid_request", "The request is malformed.", 400)
    from django.views.defaults import bad_request

    return bad_request(request, exception)


def handler403(request, exception=None):
    if is_api_path(request):
        return json_error_response("forbidden", "Forbidden.", 403)
    from django.views.defaults import permission_denied

    return permission_denied(request, exception)


def csrf_failure(request, reason=""):
    # API views are CSRF-exempt (they take no cookies); anything else under /api/ answers JSON.
    if is_api_path(request):
        return json_error_response("forbidden", "CSRF verification failed.", 403)
    from django.views.csrf import csrf_failure as django_csrf_failure

    return django_csrf_failure(request, reason)


def handler404(request, exception=None):
    if is_api_path(request):
        return json_error_response("not_found", "No such endpoint.", 404)
    from django.views.defaults import page_not_found

    return page_not_found(request, exception)


def handler500(request):
    error = sys.exc_info()[1]
    if isinstance(error, CONNECTION_ERRORS):
        unavailable = ServiceUnavailable()
        if is_api_path(request):
            return json_error_response(
                unavailable.code,
                unavailable.message,
                unavailable.status_code,
                headers=unavailable.response_headers(),
            )
        return HttpResponse(
            "Service unavailable, retry shortly.",
            status=unavailable.status_code,
            content_type="text/plain",
            headers=unavailable.response_headers(),
        )
    # The path is the client's: escaped and redacted, so it can neither forge a log line nor
    # leak a key.
    logger.error("Unhandled error serving %s %s", request.method, scrub(request.path))
    if is_api_path(request):
        return json_error_response(
            "internal_error", "An internal error occurred; quote the request id to support.", 500
        )
    from django.views.defaults import server_error

    return server_error(request)


@csrf_exempt
def api_not_found(request, rest=""):
    return json_error_response("not_found", "No such endpoint.", 404)
