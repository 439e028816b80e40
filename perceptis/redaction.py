"""The one redaction of API keys, for log lines, the request log and error bodies.

It knows only the shape every Perceptis key starts with (``sk-live-per-`` / ``sk-test-per-``),
so it also removes a key cut short, whose checksum no longer matches.
"""

import re

# Anything that starts like a key, even cut short.
KEY_LIKE_RE = re.compile(r"sk-(live|test)-per-[A-Za-z0-9_-]{4,}")
# C0 controls, DEL and C1 controls: a newline in a logged value would forge a log line.
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# C0 controls and DEL only: header values arrive decoded as Latin-1, where the bytes of UTF-8
# text include the C1 range.
_C0_RE = re.compile(r"[\x00-\x1f\x7f]")


def redact(text: str) -> str:
    """Return ``text`` with anything shaped like a key, whole or cut short, replaced."""
    return KEY_LIKE_RE.sub(lambda m: f"sk-{m.group(1)}-per-[redacted]", text)


def escape_controls(text: str) -> str:
    r"""Return ``text`` with control characters written as escapes (``\n``, ``\x00``)."""
    return _CONTROL_RE.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def has_controls(text: str) -> bool:
    """Return whether ``text`` holds a C0 control character or DEL."""
    return _C0_RE.search(text) is not None


def scrub(text: str) -> str:
    """Return a client-supplied value fit for a log line: redacted, with controls escaped."""
    return escape_controls(redact(text))


def redact_value(value):
    """Return ``value`` (any JSON-like structure) with every string in it redacted."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {redact_value(k): redact_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_value(v) for v in value]
    return value


def redact_event(event, hint=None):
    """Sentry's ``before_send``: the event with anything key-shaped removed, everywhere in it."""
    return redact_value(event)
