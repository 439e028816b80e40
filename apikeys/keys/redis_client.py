"""The Redis client of the request path: django-redis's, with the cache's key prefix.

With ``REDIS_CLUSTER`` it is a redis-py ``RedisCluster`` (``perceptis.pagecache``'s connection
factory), and every script call names keys of one hash slot (``redis_contract``).
"""

from django.core.cache import cache

from apikeys.keys.process_state import state


def redis_configured() -> bool:
    """Whether the cache is Redis (without connecting to it)."""
    return hasattr(getattr(cache, "client", None), "get_client")


def redis_or_none():
    """Return the django-redis client, or None when the cache is not Redis (local memory).

    On a cluster, creating the client asks a node for the slots' owners: if none answers, this
    raises a connection error (an outage, ``fallback.shared_call``).
    """
    if not redis_configured():
        return None
    return cache.client.get_client(write=True)


def is_cluster() -> bool:
    """Whether the cache is a Redis Cluster (``REDIS_CLUSTER``), without connecting to it."""
    return bool(getattr(cache, "cluster", False))


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
