"""The key pipeline with the key row fetched by the plain ORM, to show what the hand-built
lookup of ``apikeys.keys.lookup`` is worth.

``OrmLookupAuthentication`` is the product's ``ApiKeyAuthentication`` in every respect but the
lookup, so the checks stay the product's whatever they become. With the key cache on (Redis)
neither lookup runs on a warm request; the configurations without it show the difference.
"""

from django.conf import settings

from apikeys.keys import keyformat, lookup
from apikeys.keys.authentication import ApiKeyAuthentication
from apikeys.keys.lookup import _KEY_COLUMNS
from apikeys.keys.models import KeySecret

# The columns the product's lookup loads, as ``only()`` names them.
_ONLY = [prefix + name for _, prefix, names in _KEY_COLUMNS for name in names]


def orm_lookup_key(plaintext: str, *, using: str = "default"):
    """Return the key and secret for a plaintext key, or None, as idiomatic ORM code would."""
    secrets = KeySecret.objects.using(using).select_related("key__organization__plan").only(*_ONLY)
    hashes = [(None, keyformat.hash_key(plaintext))] + [
        (pepper_id, keyformat.hash_key(plaintext, pepper))
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


class OrmLookupAuthentication(ApiKeyAuthentication):
    """The product's authentication, with the key row fetched by the ORM on ``database``."""

    database = "default"

    def authenticate_credentials(self, credential: str, request):
        # The product's authentication calls ``lookup.lookup``; during this call the ORM lookup
        # answers in its place. The benchmark sends one request at a time, in one thread, so no
        # request of another variant sees it.
        product_lookup = lookup.lookup
        lookup.lookup = self.orm_lookup
        try:
            return super().authenticate_credentials(credential, request)
        finally:
            lookup.lookup = product_lookup

    def orm_lookup(self, plaintext: str, secret_hash: str):
        return orm_lookup_key(plaintext, using=self.database)


class OrmBindingLookupAuthentication(OrmLookupAuthentication):
    """The ORM lookup on a connection with server-side parameter binding (bench.settings)."""

    database = "bench_binding"


class OrmPreparedLookupAuthentication(OrmLookupAuthentication):
    """The ORM lookup with server-side binding and psycopg's automatic prepared statements."""

    database = "bench_prepared"


# The ORM-lookup variants' authentication, by the database alias each names (bench.variants).
ORM_LOOKUP_AUTHENTICATION = {
    cls.database: cls
    for cls in (
        OrmLookupAuthentication,
        OrmBindingLookupAuthentication,
        OrmPreparedLookupAuthentication,
    )
}
