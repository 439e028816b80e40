"""Domain errors and the one renderer for every API error.

Every error under ``/api/v1/`` is ``{"error": {"code", "message", "request_id"}}``, plus
``fields`` for validation errors. Clients branch on ``code``, never on ``message``.
"""

import logging
import sys

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, status
from rest_framework.response import Response

from perceptis.middleware import current_request_id
from perceptis.redaction import redact, redact_value, scrub

logger = logging.getLogger(__name__)


class DomainError(Exception):
    """A refusal a client can act on: a stable ``code``, an HTTP status and a message."""

    code = "error"
    status_code = status.HTTP_400_BAD_REQUEST
    default_message = "The request was refused."
    # Seconds after which the same request may succeed, sent as ``Retry-After`` (None: none).
    retry_after: int | None = None

    def __init__(self, message: str | None = None, *, fields: dict | None = None):
        self.message = message or self.default_message
        self.fields = fields
        super().__init__(self.message)


class InvalidRequest(DomainError):
    code = "invalid_request"
    default_message = "The request body is not valid."


class UnsupportedMediaType(DomainError):
    code = "unsupported_media_type"
    status_code = status.HTTP_415_UNSUPPORTED_MEDIA_TYPE
    default_message = "Send the body as JSON with 'Content-Type: application/json'."


def json_body(request, *, required: bool = True):
    """Return the request's parsed JSON body, refusing any other media type with 415.

    ``application/json`` with or without parameters (``; charset=utf-8``) is accepted. When the
    body is not ``required``, a request without one gets ``{}``.
    """
    if not required and request.META.get("CONTENT_LENGTH") in (None, "", "0"):
        return {}
    media_type = (request.content_type or "").split(";", 1)[0].strip().lower()
    if media_type != "application/json":
        raise ApiError(UnsupportedMediaType())
    return request.data


class NotAcceptable(DomainError):
    code = "not_acceptable"
    status_code = status.HTTP_406_NOT_ACCEPTABLE
    default_message = "The API answers JSON only: accept application/json."


class LengthRequired(DomainError):
    code = "length_required"
    status_code = status.HTTP_411_LENGTH_REQUIRED
    default_message = "Send the body with a Content-Length header; chunked bodies are refused."


class NotFound(DomainError):
    code = "not_found"
    status_code = status.HTTP_404_NOT_FOUND
    default_message = "Not found."


class PermissionRefused(DomainError):
    code = "insufficient_permissions"
    status_code = status.HTTP_403_FORBIDDEN
    default_message = "This API key lacks the permission this request needs."


class ServiceUnavailable(DomainError):
    code = "service_unavailable"
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_message = "The service is briefly unavailable; retry after the time in Retry-After."


# A lost or refused database connection: the client's request was fine, so it is told to retry
# (503) rather than given a 500. Data and integrity errors stay bugs.
CONNECTION_ERRORS = (OperationalError, InterfaceError)
RETRY_AFTER_SECONDS = 5


def service_unavailable_headers() -> dict:
    return {"Retry-After": str(RETRY_AFTER_SECONDS)}


class ApiError(exceptions.APIException):
    """A DRF exception that carries a domain error through DRF's authentication machinery."""

    def __init__(self, error: DomainError, headers: dict | None = None):
        self.error = error
        self.status_code = error.status_code
        self.headers = headers or {}
        super().__init__(detail=error.message, code=error.code)


# DRF's own exception codes, renamed to the API's stable codes.
_DRF_CODES = {
    exceptions.NotAuthenticated: "missing_api_key",
    exceptions.AuthenticationFailed: "invalid_api_key",
    exceptions.PermissionDenied: "insufficient_permissions",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.ParseError: "invalid_request",
    exceptions.ValidationError: "invalid_request",
    exceptions.Throttled: "rate_limited",
}


def error_body(code: str, message: str, *, fields: dict | None = None) -> dict:
    # Messages may quote what the client sent (a choice, a field's value): never a key.
    body = {"code": code, "message": redact(message), "request_id": current_request_id()}
    if fields:
        body["fields"] = redact_value(fields)
    return {"error": body}


def _flatten_fields(detail) -> dict:
    """Return ``{field: [messages]}`` from a DRF validation detail of any shape."""
    if isinstance(detail, dict):
        out = {}
        for name, value in detail.items():
            if isinstance(value, dict):
                for sub, msgs in _flatten_fields(value).items():
                    out[f"{name}.{sub}"] = msgs
            elif isinstance(value, list):
                out[name] = [str(v) for v in value if not isinstance(v, (dict, list))] or [
                    "Invalid value."
                ]
            else:
                out[name] = [str(value)]
        return out
    if isinstance(detail, list):
        return {"non_field_errors": [str(v) for v in detail]}
    return {"non_field_errors": [str(detail)]}


def api_exception_handler(exc, context):
    """Render any exception raised in an API view as the API's JSON error body."""
    headers = {}
    if isinstance(exc, DomainError):
        retry = {"Retry-After": str(exc.retry_after)} if exc.retry_after is not None else None
        exc = ApiError(exc, headers=retry)
    if isinstance(exc, RequestDataTooBig):
        # DRF reads ``request.body`` for JSON, where Django refuses an oversized body with an
        # exception that would otherwise become an HTML 400 page.
        exc = exceptions.ParseError(
            f"The request body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes."
        )
    if isinstance(exc, CONNECTION_ERRORS):
        logger.error("Database unavailable: %s", type(exc).__name__)
        exc = ApiError(ServiceUnavailable(), headers=service_unavailable_headers())
    if isinstance(exc, Http404):
        exc = ApiError(NotFound())
    elif isinstance(exc, DjangoPermissionDenied):
        exc = ApiError(PermissionRefused())

    if isinstance(exc, ApiError):
        err = exc.error
        headers.update(exc.headers)
        response = Response(
            error_body(err.code, err.message, fields=err.fields), status=err.status_code
        )
    elif isinstance(exc, exceptions.APIException):
        code = next((c for cls, c in _DRF_CODES.items() if isinstance(exc, cls)), None)
        if isinstance(exc, exceptions.ValidationError):
            response = Response(
                error_body(
                    "invalid_request",
                    "The request body is not valid.",
                    fields=_flatten_fields(exc.detail),
                ),
                status=exc.status_code,
            )
        elif isinstance(exc, exceptions.ParseError):
            # An unreadable body is a validation error of the body as a whole: clients get
            # ``fields`` on every ``invalid_request``.
            message = str(exc.detail)
            response = Response(
                error_body("invalid_request", message, fields={"body": [message]}),
                status=exc.status_code,
            )
        else:
            message = str(exc.detail) if not isinstance(exc.detail, (dict, list)) else ""
            response = Response(
                error_body(code or exc.get_codes() or "error", message or "Request refused."),
                status=exc.status_code,
            )
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header
        if getattr(exc, "wait", None) is not None:
            headers["Retry-After"] = str(int(exc.wait))
    else:
        return None  # A bug: DRF re-raises, Django logs it and answers 500 (see handler500).
    for name, value in headers.items():
        response[name] = value
    return response


def json_error_response(
    code: str, message: str, status_code: int, *, headers: dict | None = None
) -> JsonResponse:
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
        if is_api_path(request):
            err = ServiceUnavailable()
            return json_error_response(
                err.code, err.message, 503, headers=service_unavailable_headers()
            )
        return HttpResponse(
            "Service unavailable, retry shortly.",
            status=503,
            content_type="text/plain",
            headers=service_unavailable_headers(),
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
