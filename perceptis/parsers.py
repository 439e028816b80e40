"""Request bodies: a JSON parser that refuses what the standard one lets through to a 500, and
the one way a view reads its JSON body."""

import json
import math

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from perceptis.errors import UnsupportedMediaType

MAX_DEPTH = 32


def _reject_constant(name):
    raise ValueError(f"{name} is not valid JSON")


def _parse_float(text):
    # ``1e400`` parses as infinity, which neither jsonb nor SQLite's JSON functions accept.
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:20]} is out of range")
    return value


def check_storable(value, *, depth: int = 0, max_depth: int = MAX_DEPTH) -> None:
    """Raise ``ValueError`` unless ``value`` can be stored in a text or JSON column everywhere.

    PostgreSQL refuses NUL characters in text and ``\\u0000`` in jsonb, and lone surrogates
    cannot be encoded as UTF-8; SQLite would store them and PostgreSQL would fail with a 500,
    so both are refused up front, together with nesting deeper than ``max_depth``.
    """
    if depth > max_depth:
        raise ValueError("The JSON document is nested too deeply.")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("Numbers must be finite.")
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError("Strings may not contain NUL characters.")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("Strings must be valid Unicode.") from None
    elif isinstance(value, dict):
        for key, item in value.items():
            check_storable(key, depth=depth + 1, max_depth=max_depth)
            check_storable(item, depth=depth + 1, max_depth=max_depth)
    elif isinstance(value, list):
        for item in value:
            check_storable(item, depth=depth + 1, max_depth=max_depth)


class StrictJSONParser(JSONParser):
    """Parse ``application/json`` bodies, refusing oversized, too deep or unstorable ones.

    ``application/json`` with or without a ``charset`` parameter is accepted; the body must be
    UTF-8.
    """

    def parse(self, stream, media_type=None, parser_context=None):
        request = (parser_context or {}).get("request")
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if request is not None:
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                raise ParseError("Content-Length is not a number.") from None
            if limit and length > limit:
                raise ParseError(f"The request body is larger than {limit} bytes.")
        raw = stream.read(limit + 1) if limit else stream.read()
        if limit and len(raw) > limit:
            raise ParseError(f"The request body is larger than {limit} bytes.")
        try:
            text = raw.decode("utf-8")
            data = json.loads(text, parse_constant=_reject_constant, parse_float=_parse_float)
            check_storable(data)
        except RecursionError:
            raise ParseError("The JSON document is nested too deeply.") from None
        except (ValueError, UnicodeDecodeError) as exc:
            raise ParseError(f"The body is not valid UTF-8 JSON: {exc}") from None
        return data


def json_body(request, *, required: bool = True):
    """Return the request's parsed JSON body, refusing any other media type with 415.

    ``application/json`` with or without parameters (``; charset=utf-8``) is accepted. When the
    body is not ``required``, a request without one gets ``{}``.
    """
    if not required and request.META.get("CONTENT_LENGTH") in (None, "", "0"):
        return {}
    media_type = (request.content_type or "").split(";", 1)[0].strip().lower()
    if media_type != "application/json":
        raise UnsupportedMediaType()
    return request.data
