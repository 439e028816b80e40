"""Error responses of an operation, derived from the error classes that can refuse it."""

from collections import defaultdict
from collections.abc import Iterable

from perceptis.errors import (
    DomainError,
    InvalidRequest,
    LengthRequired,
    NotAcceptable,
    NotFound,
    ServiceUnavailable,
    UnsupportedMediaType,
)

# Refusals any API request may get, before a view runs: a malformed query string or Host header
# (the request guard, Django), an Accept header without JSON, the database unreachable.
GENERIC_ERRORS: tuple[type[DomainError], ...] = (InvalidRequest, NotAcceptable, ServiceUnavailable)
# With a path parameter, a value no route matches (a control character, an encoded slash).
PATH_ERRORS: tuple[type[DomainError], ...] = (NotFound,)
# With a request body: a chunked one (refused by the request guard, before authentication) and
# its media type (checked by the view).
CHUNKED_BODY_ERRORS: tuple[type[DomainError], ...] = (LengthRequired,)
BODY_ERRORS: tuple[type[DomainError], ...] = (UnsupportedMediaType,)

_FIELDS_SCHEMA = {
    "type": "object",
    "description": "Validation errors: the field's dotted name and its messages.",
    "additionalProperties": {"type": "array", "items": {"type": "string"}},
}


def by_status(errors: Iterable[type[DomainError]]) -> dict[int, list[type[DomainError]]]:
    """Return the error classes grouped by HTTP status, each group without repeated codes."""
    grouped: dict[int, dict[str, type[DomainError]]] = defaultdict(dict)
    for error in errors:
        grouped[int(error.status_code)].setdefault(error.code, error)
    return {status: list(codes.values()) for status, codes in sorted(grouped.items())}


def error_body_schema(errors: Iterable[type[DomainError]]) -> dict:
    """Return the schema of ``{"error": {...}}`` whose ``code`` is one of these errors' codes."""
    codes = sorted({error.code for error in errors})
    return {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message", "request_id"],
                "properties": {
                    "code": {"type": "string", "enum": codes},
                    "message": {"type": "string"},
                    "request_id": {
                        "type": "string",
                        "description": "Equal to the X-Request-ID response header.",
                    },
                    "fields": _FIELDS_SCHEMA,
                },
            }
        },
    }


def error_description(errors: Iterable[type[DomainError]]) -> str:
    """Return a response description listing each code with its default message."""
    return "\n".join(f"- `{error.code}`: {error.default_message}" for error in errors)
