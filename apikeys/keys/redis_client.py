"""The Redis client of the request path: django-redis's, with the cache's key prefix."""

from django.core.cache import cache

from apikeys.keys.process_state import state


def redis_or_none():
    """Return the django-redis client, or None when the cache is not Redis (local memory)."""
    client = getattr(cache, "client", None)
    if client is None or not hasattr(client, "get_client"):
        return None
    return client.get_client(write=True)


def prefix() -> str:
    """The cache's key prefix, which every name of ``redis_contract`` is stored under."""
    return cache.make_key("")


def script(source: str):
    """Return ``source`` registered with this process's Redis client (loaded once per client)."""
    redis = redis_or_none()
    registered = state.scripts.get(source)
    if registered is None or registered[0] is not redis:
        registered = state.scripts[source] = (redis, redis.register_script(source))
    return registered[1]
