"""Checks shared by every service that validates fields, and how they report errors."""

import unicodedata

from perceptis.errors import InvalidRequest


def clean_fields(checks: dict) -> dict:
    """Run ``{field: callable}`` and return the cleaned values, or raise with every field error.

    Each callable returns the cleaned value or raises ``ValueError`` with a message for the
    person who filled the field in; all messages are collected into one ``InvalidRequest``.
    """
    cleaned, errors = {}, {}
    for field, check in checks.items():
        try:
            cleaned[field] = check()
        except ValueError as exc:
            errors[field] = [str(exc)]
    if errors:
        raise InvalidRequest("Some fields are not valid.", fields=errors)
    return cleaned


# Control (Cc), format (Cf: bidirectional overrides and isolates, zero-width characters, the
# byte-order mark) and line/paragraph separators: they make a name look like another one.
_INVISIBLE_CATEGORIES = {"Cc", "Cf", "Zl", "Zp"}


def clean_name(value, *, what: str, max_length: int = 100) -> str:
    """Return a stripped display name of at most ``max_length`` characters, without control,
    bidirectional or invisible characters."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"Give the {what} a name.")
    value = value.strip()
    if len(value) > max_length:
        raise ValueError(f"Names are at most {max_length} characters.")
    if any(unicodedata.category(ch) in _INVISIBLE_CATEGORIES for ch in value):
        raise ValueError("Names may not contain control, bidirectional or invisible characters.")
    return value


def clean_choice(value, choices, what: str) -> str:
    if value not in choices:
        raise ValueError(f"{what} must be one of: {', '.join(choices)}.")
    return value
