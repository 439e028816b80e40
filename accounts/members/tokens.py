"""Invitation link tokens: made once, stored only as their HMAC."""

import hashlib
import hmac
import secrets

from django.conf import settings


def token_new() -> str:
    """Return a fresh random token for an invitation link (shown once, in the email)."""
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """Return the HMAC-SHA256 of ``token`` keyed by ``SECRET_KEY``: what the database keeps.

    Keyed, so a copy of the table alone cannot be matched against guessed tokens.
    """
    key = ("accounts.invitation:" + settings.SECRET_KEY).encode()
    return hmac.new(key, token.encode(), hashlib.sha256).hexdigest()
