"""Request id: one id per request, echoed in ``X-Request-ID`` and in every log line."""

import contextvars
import logging
import re
import secrets

from perceptis.redaction import escape_controls, redact

_request_id = contextvars.ContextVar("request_id", default="-")

# A caller-supplied id is kept only when it is short and plain, so it cannot inject into logs.
_CLIENT_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{8,64}\Z")


def current_request_id() -> str:
    """Return the id of the request being served, or ``"-"`` outside a request."""
    return _request_id.get()


def _acceptable_client_id(supplied: str) -> bool:
    # A client that sends its API key as the request id would have it echoed and logged.
    return bool(_CLIENT_ID_RE.match(supplied)) and not supplied.lower().startswith("sk-")


def new_request_id() -> str:
    return "req_" + secrets.token_hex(12)


class RequestIdMiddleware:
    """Give every request an id and send it back in ``X-Request-ID``.

    It runs first, so responses made by Django itself (404, 405, CSRF failures) carry the id too.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        supplied = request.META.get("HTTP_X_REQUEST_ID", "")
        request_id = supplied if _acceptable_client_id(supplied) else new_request_id()
        request.request_id = request_id
        token = _request_id.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            _request_id.reset(token)
        response["X-Request-ID"] = request_id
        return response


class RequestIdLogFilter(logging.Filter):
    """Add ``request_id`` to every log record."""

    def filter(self, record):
        if not hasattr(record, "request_id"):
            record.request_id = current_request_id()
        return True


def _escaped(arg):
    return escape_controls(arg) if isinstance(arg, str) else arg


class RedactApiKeysFilter(logging.Filter):
    """Redact every secret in a log message (``perceptis.redaction``): API keys, reset keys
    and invitation tokens in paths, secret query parameters, signing secrets, form tokens.

    Control characters in the message's arguments (the values logged, such as a path) are
    escaped first, so a ``%0a`` in a URL cannot forge a log line. Attached to the handlers, to
    ``django.request`` (which logs the path of every 4xx) and to gunicorn's loggers
    (``gunicorn.conf.py``).
    """

    def filter(self, record):
        if isinstance(record.args, tuple):
            record.args = tuple(_escaped(arg) for arg in record.args)
        elif isinstance(record.args, dict):
            # In place: gunicorn's access-log atoms are a dict subclass that answers "-" for
            # absent headers, which a plain copy would lose.
            for name in list(record.args):
                record.args[name] = _escaped(record.args[name])
        message = record.getMessage()
        redacted = redact(message)
        if redacted != message or record.args:
            record.msg, record.args = redacted, None
        return True
