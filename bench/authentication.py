"""The key pipeline with the key row fetched by the plain ORM, to show what the hand-built
lookup of ``apikeys.keys.authentication`` is worth.

``OrmLookupAuthentication`` is the product's ``ApiKeyAuthentication`` in every respect but the
lookup: its ``_check`` is the product's own code, run with ``orm_lookup_key`` in the place of
``lookup_key`` (the product has no lookup method to override), so the checks stay the product's
whatever they become.
"""

import types

from django.conf import settings

from apikeys.keys import format as keys
from apikeys.keys.authentication import _KEY_COLUMNS, ApiKeyAuthentication
from apikeys.keys.models import KeySecret

# The columns the product's lookup loads, as ``only()`` names them.
_ONLY = [prefix + name for _, prefix, names in _KEY_COLUMNS for name in names]


def orm_lookup_key(plaintext: str, *, using: str = "default"):
    """Return the key and secret for a plaintext key, or None, as idiomatic ORM code would."""
    if keys.parse(plaintext) is None:
        return None
    secrets = KeySecret.objects.using(using).select_related("key__organization__plan").only(*_ONLY)
    hashes = [(None, keys.hash_key(plaintext))] + [
        (pepper_id, keys.hash_key(plaintext, pepper))
        for pepper_id, pepper in settings.API_KEY_RETIRED_PEPPERS.items()
    ]
    for pepper_id, secret_hash in hashes:
        try:
            secret = secrets.get(secret_hash=secret_hash)
        except KeySecret.DoesNotExist:
            continue
        if pepper_id is None or secret.pepper_id == pepper_id:
            return secret.key, secret
    return None


def _check_with(lookup):
    """Return the product's ``ApiKeyAuthentication._check`` calling ``lookup`` for the key."""
    check = ApiKeyAuthentication._check
    if "lookup_key" not in check.__code__.co_names:
        raise AssertionError("ApiKeyAuthentication._check no longer calls lookup_key")
    namespace = {**check.__globals__, "lookup_key": lookup}
    return types.FunctionType(
        check.__code__, namespace, check.__name__, check.__defaults__, check.__closure__
    )


def orm_authentication(using: str = "default") -> type:
    """Return the product's authentication class with the ORM lookup on database ``using``."""

    def lookup(plaintext: str):
        return orm_lookup_key(plaintext, using=using)

    return type(
        f"OrmLookupAuthentication_{using}",
        (ApiKeyAuthentication,),
        {"_check": _check_with(lookup), "__module__": __name__},
    )
