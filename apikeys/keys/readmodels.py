"""Read models: a view's cached answer per API key (a job's status body), versioned.

Stored under the key's id, so a key reads only what was cached for it. With Redis the
authentication's fetch script returns the one a request names in the same round trip
(``keycache``), and a write replaces only an older version (``redis_contract.READ_MODEL_PUT_LUA``),
so a late write never undoes a newer state. Without Redis it is this process's local-memory
cache, which no other process updates: callers store only answers that never change there.
"""

import pickle

from django.core.cache import cache

from apikeys.keys import redis_contract as contract
from apikeys.keys.redis_client import prefix, redis_or_none, script


def _name(key_pk: int, name: str) -> str:
    return contract.READ_MODEL.format(key=key_pk, name=name)


def shared() -> bool:
    """Whether read models are shared by every process (Redis) or this process's own."""
    return redis_or_none() is not None


def read_model_put(key_pk: int, name: str, value, *, version: int, seconds: int) -> bool:
    """Store ``value`` unless a newer ``version`` is stored already; return whether stored."""
    if redis_or_none() is None:
        old = cache.get(_name(key_pk, name))
        if old is not None and old[0] >= version:
            return False
        cache.set(_name(key_pk, name), (version, value), seconds)
        return True
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    stored = script(contract.READ_MODEL_PUT_LUA)(
        keys=[prefix() + _name(key_pk, name)],
        args=contract.READ_MODEL_PUT.argv(version=version, data=data, seconds=seconds),
    )
    return bool(stored)


def read_model_get(key_pk: int, name: str):
    """Return the read model, when the fetch script did not bring it (no key cache)."""
    redis = redis_or_none()
    if redis is None:
        stored = cache.get(_name(key_pk, name))
        return None if stored is None else stored[1]
    data = redis.hget(prefix() + _name(key_pk, name), "data")
    return pickle.loads(data) if data else None  # noqa: S301 (Redis is ours alone)
