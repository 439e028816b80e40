"""The request counters in Redis: one increment, taking a refused request back, and adding
what a process counted alone while Redis was away.

Names and lifetimes are ``redis_contract``'s. Without Redis (the embedded default) the
counters are the cache's (local memory), with the same one-increment rule.
"""

from django.core.cache import cache
from redis.exceptions import ResponseError

from apikeys.keys import redis_contract as contract
from apikeys.keys.redis_client import prefix, redis_or_none
from apikeys.keys.redis_contract import Counts


def incr(name: str, ttl: int) -> int:
    """Atomically add one to the counter ``name`` (created with ``ttl``), return the new value."""
    redis = redis_or_none()
    if redis is not None:
        # One INCR; the window's first request also sets the expiry. (A process dying between
        # the two leaves one counter without expiry; its window has passed, so it is never
        # read again.)
        full_name = prefix() + name
        count = redis.incr(full_name)
        if count == 1:
            redis.expire(full_name, ttl)
        return int(count)
    # Other caches: a single increment, except for the window's first request.
    try:
        return cache.incr(name)
    except ValueError:  # no counter yet
        if cache.add(name, 1, ttl):
            return 1
        return cache.incr(name)  # another process created it in between


def get(name: str) -> int:
    """Return the counter ``name`` (0 when there is none)."""
    redis = redis_or_none()
    value = cache.get(name) if redis is None else redis.get(prefix() + name)
    return int(value or 0)


def refund(key_pk: int, organization_pk: int, counts: Counts, *, window: int, day: int) -> None:
    """Take back what ``counts`` counted, for a request refused before the limiter.

    (Its counters share the organization's slot, so one node answers on a cluster.)
    """
    names, owner = [], {"key": key_pk, "organization": organization_pk}
    if counts.minute > 0:
        names.append(contract.MINUTE.format(**owner, window=window))
    if counts.day > 0:
        names.append(contract.DAY.format(**owner, day=day))
    if counts.org_day > 0:
        names.append(contract.ORGANIZATION_DAY.format(organization=organization_pk, day=day))
    pipe = redis_or_none().pipeline(transaction=False)
    for name in names:
        pipe.decr(prefix() + name)
    pipe.execute()


def add(counts: dict[str, int]) -> None:
    """Add counts taken while Redis was away to its counters (created with their lifetime).

    Single-key commands only, so that it works on Redis Cluster too (the pipeline sends each
    node its own).
    """
    redis = redis_or_none()
    if redis is None or not counts:
        return
    pipe = redis.pipeline(transaction=False)
    for name, count in counts.items():
        pipe.incrby(prefix() + name, count)
        # The name holds its window, so a longer life never lets a count leak into another.
        pipe.expire(prefix() + name, ttl_of(name))
    pipe.execute()


def server_id(node: str | None = None) -> str:
    """The ``run_id`` of the Redis server (on a cluster: of ``node``, "host:port"), which
    changes when it restarts; "" when there is no one server to ask (no Redis, a node the
    client does not know, a cluster's calls that name no key, a server that refuses INFO)."""
    redis = redis_or_none()
    if redis is None:
        return ""
    if node is not None:
        known = redis.get_node(node_name=node)
        if known is None or known.redis_connection is None:
            return ""
        redis = known.redis_connection
    elif hasattr(redis, "nodes_manager"):
        return ""
    try:
        return str(redis.info("server")["run_id"])
    except (ResponseError, KeyError):  # INFO refused (an ACL, a managed service): unknown
        return ""


def is_minute(name: str) -> bool:
    """Whether ``name`` is a key's minute counter (its rate limit's)."""
    return name.startswith(contract.MINUTE.kind)


def ttl_of(name: str) -> int:
    """The lifetime of a counter, from its name's kind."""
    if is_minute(name) or name.startswith(contract.REVOKE_EXPOSED.kind):
        return contract.MINUTE_TTL
    if name.startswith(contract.FAILED_AUTH.kind):
        return contract.FAILED_AUTH_TTL
    return contract.DAY_TTL
