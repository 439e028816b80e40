"""Domain errors: the one way to refuse a request.

A refusal is a ``DomainError`` subclass with a stable ``code``, an HTTP ``status_code`` and a
default message; an instance may carry its own message, validation ``fields``, ``retry_after``
seconds and response headers. Services raise them wherever they run (API, pages, admin,
commands); ``perceptis.exception_handler`` renders them under ``/api/v1/`` as
``{"error": {"code", "message", "request_id"}}``. Clients branch on ``code``, never on
``message``.
"""

from collections.abc import Mapping

from django.db import InterfaceError, OperationalError
from rest_framework import exceptions, status


class DomainError(exceptions.APIException):
    """A refusal a client can act on: a stable ``code``, an HTTP status and a message.

    A DRF exception, so that DRF's authentication and permission machinery handles it as its
    own (an authentication refusal leaves the request unauthenticated, not half-checked).
    """

    code = "error"
    status_code = status.HTTP_400_BAD_REQUEST
    default_message = "The request was refused."
    # Seconds after which the same request may succeed, sent as ``Retry-After`` (None: none).
    retry_after: int | None = None
    # Headers every response of this refusal carries (``WWW-Authenticate`` on a 401, say).
    headers: Mapping[str, str] = {}

    def __init__(
        self,
        message: str | None = None,
        *,
        fields: dict | None = None,
        retry_after: int | None = None,
        headers: Mapping[str, str] | None = None,
    ):
        self.message = message or self.default_message
        self.fields = fields
        if retry_after is not None:
            self.retry_after = retry_after
        if headers:
            self.headers = {**self.headers, **headers}
        super().__init__(detail=self.message, code=self.code)

    def response_headers(self) -> dict[str, str]:
        """Return the headers of this refusal's response, ``Retry-After`` among them."""
        headers = dict(self.headers)
        if self.retry_after is not None:
            headers["Retry-After"] = str(self.retry_after)
        return headers


class InvalidRequest(DomainError):
    code = "invalid_request"
    default_message = "The request is not valid."


class UnsupportedMediaType(DomainError):
    code = "unsupported_media_type"
    status_code = status.HTTP_415_UNSUPPORTED_MEDIA_TYPE
    default_message = "Send the body as JSON with 'Content-Type: application/json'."


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
    retry_after = 5


# A lost or refused database connection: the client's request was fine, so it is told to retry
# (503 ``ServiceUnavailable``) rather than given a 500. Data and integrity errors stay bugs.
CONNECTION_ERRORS = (OperationalError, InterfaceError)
