"""GitHub's secret-scanning public keys, and the check of a report's signature.

GitHub signs each report with ECDSA (P-256, SHA-256) over the raw body and names the key in
``Github-Public-Key-Identifier``; the signature, base64 of its DER encoding, is in
``Github-Public-Key-Signature``. The keys are published as
``{"public_keys": [{"key_identifier", "key" (PEM), "is_current"}]}`` at
``SECRET_SCANNING_GITHUB_KEYS_URL`` (fetched through ``perceptis.outbound``) or read from
``SECRET_SCANNING_GITHUB_KEYS_FILE``. Fetched keys are kept in the cache for
``SECRET_SCANNING_GITHUB_KEYS_CACHE_SECONDS``; an identifier not among them fetches them again,
at most once per ``SECRET_SCANNING_GITHUB_KEYS_REFRESH_SECONDS``, so that forged identifiers
cannot make every request call GitHub.
"""

import base64
import binascii
import contextlib
import json
import logging
import time

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings
from django.core.cache import cache

from perceptis import outbound

logger = logging.getLogger(__name__)

_CACHE_KEY = "exposure:github-keys:v1"
_REFRESH_KEY = "exposure:github-keys-refresh:v1"
_MAX_IDENTIFIER = 200
_MAX_SIGNATURE = 512


class KeysUnavailable(Exception):
    """GitHub's keys could not be read (network, file or format)."""


# This process's copy, used when the shared cache does not answer: {"at": time, "keys": {...}}.
_local: dict = {}


def parse_keys(document: bytes | str) -> dict[str, str]:
    """Return ``{identifier: PEM}`` from GitHub's key document; raise ``KeysUnavailable``."""
    try:
        data = json.loads(document)
        entries = data["public_keys"]
        keys = {
            entry["key_identifier"]: entry["key"]
            for entry in entries
            if isinstance(entry.get("key_identifier"), str) and isinstance(entry.get("key"), str)
        }
    except (ValueError, TypeError, KeyError, AttributeError):
        raise KeysUnavailable("GitHub's key document is not in the expected shape.") from None
    return keys


# The wall-clock deadline of one fetch of GitHub's published keys.
FETCH_DEADLINE_SECONDS = 10.0


def _fetch() -> dict[str, str]:
    if settings.SECRET_SCANNING_GITHUB_KEYS_FILE:
        try:
            with open(settings.SECRET_SCANNING_GITHUB_KEYS_FILE, "rb") as handle:
                return parse_keys(handle.read())
        except OSError as exc:
            raise KeysUnavailable(f"The key file cannot be read: {exc.strerror}.") from None
    try:
        answer = outbound.get(
            settings.SECRET_SCANNING_GITHUB_KEYS_URL,
            headers={"Accept": "application/json", "User-Agent": "perceptis-secret-scanning"},
            deadline=FETCH_DEADLINE_SECONDS,
        )
    except outbound.OutboundError as exc:
        raise KeysUnavailable(str(exc)) from None
    return parse_keys(answer.body)


def _cached() -> dict[str, str] | None:
    try:
        keys = cache.get(_CACHE_KEY)
    except Exception:  # the cache is down: this process's copy serves
        keys = None
    if keys is None and _local and time.monotonic() - _local["at"] < _cache_seconds():
        keys = _local["keys"]
    return keys


def _cache_seconds() -> int:
    return settings.SECRET_SCANNING_GITHUB_KEYS_CACHE_SECONDS


def _store(keys: dict[str, str]) -> None:
    _local.update(at=time.monotonic(), keys=keys)
    try:
        cache.set(_CACHE_KEY, keys, _cache_seconds())
    except Exception:
        logger.warning("GitHub's secret-scanning keys not cached: the cache is unavailable")


def _may_refresh() -> bool:
    seconds = settings.SECRET_SCANNING_GITHUB_KEYS_REFRESH_SECONDS
    if seconds <= 0:
        return True
    try:
        return bool(cache.add(_REFRESH_KEY, 1, seconds))
    except Exception:
        last = _local.get("refreshed", 0.0)
        if time.monotonic() - last < seconds:
            return False
        _local["refreshed"] = time.monotonic()
        return True


def public_key(identifier: str) -> str | None:
    """Return the PEM of GitHub's key ``identifier``, fetching the keys when needed.

    None when the identifier is unknown (also after a permitted refetch). Raise
    ``KeysUnavailable`` when no keys could be read at all.
    """
    keys = _cached()
    if keys is not None and identifier in keys:
        return keys[identifier]
    if not _may_refresh():
        if keys is None:  # the last fetch, moments ago, failed
            raise KeysUnavailable("GitHub's keys were not available moments ago.")
        return None
    keys = _fetch()
    _store(keys)
    return keys.get(identifier)


def forget() -> None:
    """Drop the cached keys (tests, and operators after changing the key file)."""
    _local.clear()
    with contextlib.suppress(Exception):
        cache.delete_many([_CACHE_KEY, _REFRESH_KEY])


def signature_valid(*, body: bytes, identifier: str, signature: str) -> bool:
    """Return whether ``signature`` (base64 DER ECDSA) signs ``body`` under key ``identifier``.

    False for a missing, malformed or unknown identifier or signature. Raise
    ``KeysUnavailable`` when GitHub's keys cannot be read.
    """
    if not identifier or not signature:
        return False
    if len(identifier) > _MAX_IDENTIFIER or len(signature) > _MAX_SIGNATURE:
        return False
    try:
        raw_signature = base64.b64decode(signature, validate=True)
    except (binascii.Error, ValueError):
        return False
    pem = public_key(identifier)
    if pem is None:
        return False
    try:
        key = serialization.load_pem_public_key(pem.encode("utf-8"))
    except (ValueError, TypeError, UnicodeError):
        logger.warning("GitHub's secret-scanning key %s is not a PEM public key", identifier)
        return False
    # Only GitHub's scheme: a P-256 key and ECDSA with SHA-256.
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        return False
    try:
        key.verify(raw_signature, body, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True
