"""The cache on Redis that pages survive: sign-in's rate limits count in each process while Redis
is down or hung, never open.

django-allauth keeps its rate limits (sign-in, failed sign-ins, password reset,
re-authentication) and two-factor's used codes in Django's default cache, and calls it
directly: with plain django-redis, every sign-in answers 500 during an outage. This backend is
django-redis, except that the keys allauth writes (``allauth…``) go through the process's Redis
circuit breaker (``perceptis.breaker.redis_breaker``, the request path's too) and, while it is
open, to this process's memory:

- a hung Redis costs one socket timeout (``REDIS_TIMEOUT_SECONDS``) per breaker interval
  (``APIKEYS_REDIS_BREAKER_SECONDS``) per process, as on the API;
- a rate limit counts in the process at its share of the limit (``breaker.share``: the limit
  divided by ``APIKEYS_WEB_PROCESSES``, rounded down), as the API's limits do, so the processes
  together never allow more than the limit;
- only connection and timeout errors count as an outage; any other error is raised.

Every other key (the API's counters and key records, which have their own fallback) behaves
exactly as in django-redis.

With ``REDIS_CLUSTER`` the client is redis-py's ``RedisCluster`` (``ClusterConnectionFactory``),
created from the URL of any node, which learns the others from it. Everything Django keeps in
this cache names one key per command (allauth's limits and codes, the price table, the pages'
caches), so it runs on the cluster as is; the breaker is then the one of the node that holds
the key (``breaker.breaker_for``).
"""

import math
import os
import re
import socket

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.locmem import LocMemCache
from django_redis.cache import RedisCache
from django_redis.exceptions import ConnectionInterrupted
from django_redis.pool import ConnectionFactory
from redis.backoff import NoBackoff
from redis.cluster import NodesManager, RedisCluster
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisClusterException
from redis.retry import Retry

from perceptis.breaker import OUTAGE_ERRORS, breaker_for, redis_breaker, share

CLUSTER_CONNECTION_FACTORY = "perceptis.pagecache.ClusterConnectionFactory"

FALLBACK_PREFIX = "allauth"
# allauth's rate-limit keys: ``allauth:rl:<app>:<action>:<amount>/<duration>/<per>:<source>``.
_RATE_KEY = re.compile(r"allauth:rl:[^:]+:[^:]+:(\d+)/")
# Stands for the hits of the other processes in a history read while counting alone: allauth
# allows a hit while the history is shorter than the limit, so (limit - share) of these make it
# allow this process's share. Never expires (allauth drops the oldest entries from the end;
# these go first) and is never stored.
_OTHERS = math.inf
_OUTAGE = (*OUTAGE_ERRORS, socket.timeout)

# This process's memory for the fallback keys while Redis is unavailable.
local_cache = LocMemCache("perceptis-page-fallback", {"MAX_ENTRIES": 50_000, "CULL_FREQUENCY": 3})


def _outage_cause(error: Exception) -> Exception | None:
    # django-redis raises the cause of its ConnectionInterrupted from the cache methods.
    cause = error.__cause__ if isinstance(error, ConnectionInterrupted) else error
    return cause if isinstance(cause, _OUTAGE) else None


def _with_others(key: str, history):
    match = _RATE_KEY.match(key)
    if not match or not isinstance(history, list):
        return history
    limit = int(match.group(1))
    return [_OTHERS] * (limit - share(limit)) + history


def _own(value):
    if isinstance(value, list):
        return [v for v in value if v != _OTHERS]
    return value


class _NodesManager(NodesManager):
    def initialize(self, *args, **kwargs):
        try:
            return super().initialize(*args, **kwargs)
        except RedisClusterException as error:  # no node answered: an outage, not a bug
            raise RedisConnectionError(str(error)) from error


class OutageAwareRedisCluster(RedisCluster):
    """redis-py's ``RedisCluster``, except that finding no node to ask for the slots' owners
    raises a connection error (an outage, as for one Redis), not ``RedisClusterException``."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # redis-py builds its nodes manager in ``__init__`` and takes no class for it.
        self.nodes_manager.__class__ = _NodesManager


class ClusterConnectionFactory(ConnectionFactory):
    """django-redis's connection factory for Redis Cluster: a ``RedisCluster`` client.

    ``LOCATION`` names any node (database 0: a cluster has no other). The client follows the
    slots as they move; a command to a node that is gone fails at once (no retries: the
    breaker of that node decides when to try again).
    """

    # One client per node URL and options in a process, shared by its threads (redis-py's
    # cluster client is thread-safe and keeps a pool per node), as django-redis keeps its pools.
    _clusters: dict[tuple, RedisCluster] = {}

    def connect(self, url: str) -> RedisCluster:
        params = self.make_connection_params(url)
        identity = (url, params.get("socket_timeout"), params.get("socket_connect_timeout"))
        client = self._clusters.get(identity)
        if client is None:
            client = self._clusters[identity] = self._create(url, params)
        return client

    def _create(self, url: str, params: dict) -> RedisCluster:
        try:
            return OutageAwareRedisCluster.from_url(
                url,
                socket_timeout=params.get("socket_timeout"),
                socket_connect_timeout=params.get("socket_connect_timeout"),
                require_full_coverage=False,
                retry=Retry(NoBackoff(), 0),
            )
        except RedisClusterException as error:  # no node answered for the slots' owners
            raise RedisConnectionError(str(error)) from error

    def disconnect(self, connection: RedisCluster) -> None:
        connection.disconnect_connection_pools()


# A child process (a gunicorn worker) makes its own clients, never shares its parent's sockets.
os.register_at_fork(after_in_child=ClusterConnectionFactory._clusters.clear)


class PageCache(RedisCache):
    """django-redis with a per-process fallback for allauth's keys (the module docstring)."""

    @property
    def cluster(self) -> bool:
        """Whether this cache is a Redis Cluster (``REDIS_CLUSTER``)."""
        options = self._params.get("OPTIONS", {})
        return options.get("CONNECTION_FACTORY") == CLUSTER_CONNECTION_FACTORY

    def _breaker(self, key):
        if not self.cluster:
            return redis_breaker
        try:
            client = self.client.get_client(write=True)
        except _OUTAGE:
            return redis_breaker
        return breaker_for(client, self.make_key(key))

    def _shared(self, key, call, fallback):
        if not (isinstance(key, str) and key.startswith(FALLBACK_PREFIX)):
            return call()
        breaker = self._breaker(key)
        if breaker.allows():
            try:
                breaker.catch_up()  # after an outage, the request path's counts first
                result = call()
            except (ConnectionInterrupted, *_OUTAGE) as error:
                cause = _outage_cause(error)
                if cause is None:
                    raise
                breaker.failed(cause)
            else:
                breaker.succeeded()
                return result
        return fallback()

    def clear(self):
        """Clear Redis and this process's fallback memory."""
        local_cache.clear()
        return super().clear()

    def get(self, key, default=None, version=None, client=None):
        return self._shared(
            key,
            lambda: super(PageCache, self).get(key, default, version, client),
            lambda: _with_others(key, local_cache.get(key, default, version)),
        )

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None, **kwargs):
        return self._shared(
            key,
            lambda: super(PageCache, self).set(key, value, timeout, version, **kwargs),
            lambda: local_cache.set(key, _own(value), timeout, version),
        )

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None, **kwargs):
        return self._shared(
            key,
            lambda: super(PageCache, self).add(key, value, timeout, version, **kwargs),
            lambda: local_cache.add(key, _own(value), timeout, version),
        )

    def delete(self, key, version=None, **kwargs):
        return self._shared(
            key,
            lambda: super(PageCache, self).delete(key, version, **kwargs),
            lambda: local_cache.delete(key, version),
        )
