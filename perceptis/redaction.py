"""The one redaction of API keys, for log lines, the request log and error bodies.

It knows only the shape every Perceptis key starts with (``sk-live-per-`` / ``sk-test-per-``),
so it also removes a key cut short, whose checksum no longer matches.
"""

import re

# Anything that starts like a key, even cut short.
KEY_LIKE_RE = re.compile(r"sk-(live|test)-per-[A-Za-z0-9_-]{4,}")


def redact(text: str) -> str:
    """Return ``text`` with anything shaped like a key, whole or cut short, replaced."""
    return KEY_LIKE_RE.sub(lambda m: f"sk-{m.group(1)}-per-[redacted]", text)
