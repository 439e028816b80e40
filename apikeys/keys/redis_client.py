"""The Redis client of the request path: django-redis's, with the cache's key prefix.

With ``REDIS_CLUSTER`` it is a redis-py ``RedisCluster`` (``perceptis.pagecache``'s connection
factory), and every script call names keys of one hash slot (``redis_contract``).
"""

import hashlib

from django.core.cache import cache
from redis.exceptions import NoScriptError

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
        runner = ClusterScript(redis, source) if is_cluster() else redis.register_script(source)
        registered = state.scripts[source] = (redis, runner)
    return registered[1]


class ClusterScript:
    """A script on Redis Cluster: ``EVALSHA`` on the node of its keys' slot, and where that node
    lacks it, ``EVAL``, which loads it there. (redis-py's ``Script`` loads a missing script on
    every master first: one master down would stop the scripts of all the others.)"""

    def __init__(self, client, source: str):
        self.client, self.source = client, source
        self.sha = hashlib.sha1(source.encode()).hexdigest()  # noqa: S324 (Redis's script id)

    def __call__(self, keys, args):
        try:
            return self.client.evalsha(self.sha, len(keys), *keys, *args)
        except NoScriptError:
            return self.client.eval(self.source, len(keys), *keys, *args)
