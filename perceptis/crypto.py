"""Encryption at rest for secrets the application must read back (webhook signing secrets,
authenticator-app secrets): Fernet (AES-128-CBC + HMAC-SHA256) from ``cryptography``.

Keys come from ``ENCRYPTION_KEYS`` (a list: the first encrypts, every one decrypts, so a new key
is added in front and the old one kept until everything is re-encrypted); unset, one key is
derived from ``SECRET_KEY``. Values are stored as ``enc1:<token>``; anything without the prefix
is a value written before encryption and is returned as it is.
"""

import base64
import hashlib
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.db import models

PREFIX = "enc1:"


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    derived = [
        Fernet(base64.urlsafe_b64encode(hashlib.sha256(f"perceptis-at-rest:{k}".encode()).digest()))
        for k in keys
    ]
    return MultiFernet(derived)


def _keys() -> tuple[str, ...]:
    keys = tuple(getattr(settings, "ENCRYPTION_KEYS", None) or ())
    return keys or (f"secret-key:{settings.SECRET_KEY}",)


def encrypt(text: str) -> str:
    if not text:
        return text
    return PREFIX + _fernet(_keys()).encrypt(text.encode()).decode()


def decrypt(stored: str) -> str:
    if not stored or not stored.startswith(PREFIX):
        return stored
    try:
        return _fernet(_keys()).decrypt(stored[len(PREFIX) :].encode()).decode()
    except InvalidToken:
        raise ValueError("An encrypted value does not open with any of ENCRYPTION_KEYS.") from None


class EncryptedCharField(models.CharField):
    """A text column stored encrypted; Python code reads and writes the plain value.

    Not for lookups: the same value encrypts differently each time.
    """

    def from_db_value(self, value, expression, connection):
        return decrypt(value) if value else value

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        return encrypt(value) if value else value
