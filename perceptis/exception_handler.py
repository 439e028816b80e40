"""The one renderer of API errors: DRF's exception handler and the error body.

Every error under ``/api/v1/`` is ``{"error": {"code", "message", "request_id"}}``, plus
``fields`` for validation errors. Domain errors render as they are; DRF's own exceptions and
Django's (404, permission denied, an oversized body, the database unreachable) are first turned
into the domain error that says the same, so that one code path writes every body and header.
"""

import logging

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.http import Http404
from rest_framework import exceptions
from rest_framework.response import Response

from perceptis.errors import (
    CONNECTION_ERRORS,
    DomainError,
    InvalidRequest,
    NotFound,
    PermissionRefused,
    ServiceUnavailable,
)
from perceptis.middleware import current_request_id
from perceptis.redaction import redact, redact_value

logger = logging.getLogger(__name__)

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
    """Return the API's error body, with the request id of the request being served."""
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


class DrfRefusal(DomainError):
    """One of DRF's own exceptions, under the API's code for it.

    The API's error classes declare their codes for the OpenAPI schema; DRF's exceptions (a
    method not allowed, a throttle) keep their own status and get the code ``_DRF_CODES`` names.
    """

    def __init__(self, exc: exceptions.APIException):
        named = next((c for cls, c in _DRF_CODES.items() if isinstance(exc, cls)), None)
        self.code = named or exc.get_codes() or "error"
        self.status_code = exc.status_code
        message = str(exc.detail) if not isinstance(exc.detail, (dict, list)) else ""
        # DRF sets ``auth_header`` on a 401 and ``wait`` on a throttle's refusal.
        auth_header = getattr(exc, "auth_header", None)
        wait = getattr(exc, "wait", None)
        super().__init__(
            message or "Request refused.",
            retry_after=int(wait) if wait is not None else None,
            headers={"WWW-Authenticate": auth_header} if auth_header else None,
        )


def domain_error(exc) -> DomainError | None:
    """Return the domain error that answers ``exc``, or None when ``exc`` is a bug."""
    if isinstance(exc, DomainError):
        return exc
    if isinstance(exc, RequestDataTooBig):
        # DRF reads ``request.body`` for JSON, where Django refuses an oversized body with an
        # exception that would otherwise become an HTML 400 page.
        exc = exceptions.ParseError(
            f"The request body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes."
        )
    if isinstance(exc, CONNECTION_ERRORS):
        logger.error("Database unavailable: %s", type(exc).__name__)
        return ServiceUnavailable()
    if isinstance(exc, Http404):
        return NotFound()
    if isinstance(exc, DjangoPermissionDenied):
        return PermissionRefused()
    if isinstance(exc, exceptions.ValidationError):
        return InvalidRequest(fields=_flatten_fields(exc.detail))
    if isinstance(exc, exceptions.ParseError):
        # An unreadable body is a validation error of the body as a whole: clients get
        # ``fields`` on every ``invalid_request``.
        message = str(exc.detail)
        return InvalidRequest(message, fields={"body": [message]})
    if isinstance(exc, exceptions.APIException):
        return DrfRefusal(exc)
    return None


def api_exception_handler(exc, context):
    """Render any exception raised in an API view as the API's JSON error body."""
    error = domain_error(exc)
    if error is None:
        return None  # A bug: DRF re-raises, Django logs it and answers 500 (see handler500).
    return Response(
        error_body(error.code, error.message, fields=error.fields),
        status=error.status_code,
        headers=error.response_headers(),
    )
