"""The API key format, its checksum and its keyed hash: the one place that knows them.

A key is ``sk-<type>-per-<body><checksum>``: ``body`` is 32 random bytes in unpadded base64url
(43 characters) and ``checksum`` the CRC32 of everything before it, as 4 bytes in unpadded
base64url (6 characters). The checksum lets authentication and secret scanners reject a
mistyped or made-up key without a database lookup. At rest only HMAC-SHA256 under
``API_KEY_PEPPER`` is kept: keys carry 256 bits of entropy, so a slow password hash would
add tens of milliseconds to every request and no security.
"""

import base64
import hashlib
import hmac
import re
import secrets
import string
import zlib
from dataclasses import dataclass
from functools import lru_cache

from django.conf import settings

KEY_TYPES = ("live", "test")
_BODY_BYTES = 32
_BODY_CHARS = 43
_CHECKSUM_CHARS = 6
KEY_RE = re.compile(
    rf"^(sk-(live|test)-per-)([A-Za-z0-9_-]{{{_BODY_CHARS}}})([A-Za-z0-9_-]{{{_CHECKSUM_CHARS}}})$"
)
KEY_LENGTH = len("sk-live-per-") + _BODY_CHARS + _CHECKSUM_CHARS
# Finds candidate keys inside free text (logs, commits) for the leak scanner.
KEY_SEARCH_RE = re.compile(
    rf"sk-(?:live|test)-per-[A-Za-z0-9_-]{{{_BODY_CHARS + _CHECKSUM_CHARS}}}"
)
_ID_ALPHABET = string.ascii_letters + string.digits


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _checksum(prefix_and_body: str) -> str:
    return _b64(zlib.crc32(prefix_and_body.encode("ascii")).to_bytes(4, "big"))


@dataclass(frozen=True)
class ParsedKey:
    key: str
    type: str


def generate(key_type: str) -> str:
    """Return a new random key of ``key_type`` (``live`` or ``test``)."""
    if key_type not in KEY_TYPES:
        raise ValueError(f"unknown key type {key_type!r}")
    head = f"sk-{key_type}-per-{_b64(secrets.token_bytes(_BODY_BYTES))}"
    return head + _checksum(head)


def parse(candidate: str) -> ParsedKey | None:
    """Return the parsed key, or None when it is malformed or its checksum is wrong."""
    if len(candidate) != KEY_LENGTH:
        return None
    match = KEY_RE.match(candidate)
    if match is None:
        return None
    head = candidate[:-_CHECKSUM_CHARS]
    if not hmac.compare_digest(_checksum(head), match.group(4)):
        return None
    return ParsedKey(key=candidate, type=match.group(2))


@lru_cache(maxsize=4)
def _pepper(pepper: str) -> bytes:
    return pepper.encode("utf-8")


def hash_key(key: str, pepper: str | None = None) -> str:
    """Return the hex HMAC-SHA256 of ``key`` under ``pepper`` (default: the current pepper).

    That is the only form of a key that is stored, beside the id of the pepper that made it
    (``API_KEY_PEPPER_ID``), so that a new pepper can be brought in while the retired ones
    (``API_KEY_RETIRED_PEPPERS``) still verify the keys they hashed.
    """
    pepper = settings.API_KEY_PEPPER if pepper is None else pepper
    return hmac.new(_pepper(pepper), key.encode("ascii"), hashlib.sha256).hexdigest()


def hint(key: str) -> str:
    """Return the display hint, e.g. ``sk-live-per-…abcd``."""
    return f"{key[:12]}…{key[-4:]}"


def new_key_id() -> str:
    """Return a new public Key ID such as ``key_7Hq2mZ0pX4tVb9Qe``."""
    return "key_" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(16))
