"""Read models: a view's cached answer per API key (a job's status body), versioned.

Stored under the key's id (and its organization's hash tag, so that on Redis Cluster it shares the
slot of the key's counters), so a key reads only what was cached for it. With Redis the
authentication's fetch script returns the one a request names in the same round trip
(``keycache``), and a write replaces only an older version (``redis_contract.READ_MODEL_PUT_LUA``),
so a late write never undoes a newer state. Without Redis it is this process's local-memory
cache, which no other process updates: callers store only answers that never change there.
"""

import pickle

from django.core.cache import cache

from apikeys.keys import redis_contract as contract
from apikeys.keys.redis_client import prefix, redis_configured, redis_or_none, script


def stored_name(organization_pk: int, key_pk: int, name: str) -> str:
    """The contract's name of key ``key_pk``'s read model ``name`` (without the prefix)."""
    return contract.READ_MODEL.format(organization=organization_pk, key=key_pk, name=name)


def shared() -> bool:
    """Whether read models are shared by every process (Redis) or this process's own."""
    return redis_configured()


def read_model_put(
    organization_pk: int, key_pk: int, name: str, value, *, version: int, seconds: int
) -> bool:
    """Store ``value`` unless a newer ``version`` is stored already; return whether stored."""
    full_name = stored_name(organization_pk, key_pk, name)
    if not redis_configured():
        old = cache.get(full_name)
        if old is not None and old[0] >= version:
            return False
        cache.set(full_name, (version, value), seconds)
        return True
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    stored = script(contract.READ_MODEL_PUT_LUA)(
        keys=[prefix() + full_name],
        args=contract.READ_MODEL_PUT.argv(version=version, data=data, seconds=seconds),
    )
    return bool(stored)


def read_model_get(organization_pk: int, key_pk: int, name: str):
    """Return the read model, when the fetch script did not bring it (no key cache)."""
    full_name = stored_name(organization_pk, key_pk, name)
    if not redis_configured():
        stored = cache.get(full_name)
        return None if stored is None else stored[1]
    data = redis_or_none().hget(prefix() + full_name, "data")
    return pickle.loads(data) if data else None  # noqa: S301 (Redis is ours alone)
