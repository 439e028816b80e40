"""The key pipeline with the key row fetched by the plain ORM, to show what the hand-built
lookup of ``apikeys.keys.lookup`` is worth.

``orm_authentication()`` is the product's ``ApiKeyAuthentication`` in every respect but its
``lookup``, so the checks stay the product's whatever they become. With the key cache on (Redis)
neither lookup runs on a warm request; the configurations without it show the difference.
"""

from django.conf import settings

from apikeys.keys import format as keys
from apikeys.keys.authentication import ApiKeyAuthentication
from apikeys.keys.lookup import _KEY_COLUMNS
from apikeys.keys.models import KeySecret

# The columns the product's lookup loads, as ``only()`` names them.
_ONLY = [prefix + name for _, prefix, names in _KEY_COLUMNS for name in names]


def orm_lookup_key(plaintext: str, *, using: str = "default"):
    """Return the key and secret for a plaintext key, or None, as idiomatic ORM code would."""
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


def orm_authentication(using: str = "default") -> type:
    """Return the product's authentication class with the ORM lookup on database ``using``."""

    def lookup(plaintext: str, secret_hash: str):
        return orm_lookup_key(plaintext, using=using)

    return type(
        f"OrmLookupAuthentication_{using}",
        (ApiKeyAuthentication,),
        {"lookup": staticmethod(lookup), "__module__": __name__},
    )
