"""What the request path does while Redis is unavailable: a circuit breaker and counting alone.

Every Redis call of the request path goes through ``shared_call``: after a connection error or
a timeout the breaker (``redis_breaker``; on Redis Cluster the breaker of the node that holds the
call's keys, ``breaker_for``) skips Redis for ``APIKEYS_REDIS_BREAKER_SECONDS``, and each
process counts on its own (``local_counters``) at its share of each limit
(``remaining_share``). When Redis answers again, the first call adds what the process counted
alone to Redis's counters before anything else, so the minute an outage ends in still allows
a key no more than its limit (on a cluster: the counters of the node that answers again). Any
other error from Redis (a script that fails, a wrong type) is a bug, not an outage: it is
logged as one and raised.
"""

import logging

from apikeys.keys import counters
from apikeys.keys.process_state import state
from apikeys.keys.redis_client import is_cluster, prefix, redis_or_none
from perceptis import breaker
from perceptis.breaker import OUTAGE_ERRORS, share

logger = logging.getLogger(__name__)

# One per process (``process_state``), for every Redis call on the request path and of the
# pages' cache (``perceptis.pagecache``): when one finds Redis gone, the other skips it too.
redis_breaker = state.breaker
local_counters = state.counters

__all__ = ["OUTAGE_ERRORS", "breaker_for", "remaining_share", "shared_call", "share"]


def breaker_for(name: str | None):
    """The breaker of the Redis server holding ``name`` (a contract name, without the prefix):
    ``redis_breaker`` on one Redis, or for no name; the node's on a cluster."""
    if name is None or not is_cluster():
        return redis_breaker
    try:
        client = redis_or_none()
    except OUTAGE_ERRORS:  # a cluster whose nodes cannot be asked for the slots' owners
        return redis_breaker
    return breaker.breaker_for(client, prefix() + name)


def remaining_share(name: str, quota: int) -> int:
    """What this process may count alone in a window whose shared counter is ``name``.

    The smaller of two shares: of what was left of the limit when this process last saw Redis
    count (``seen``), and of the whole limit less what this process itself counted in Redis
    this window (``own``). The first alone trusts a stale view: a process that last saw the
    counter at 2 while the others took it to 4 would allow a share of 8 left, not of 6. The
    second holds however stale the view is, as long as no process took more than its share
    while Redis counted; between them a key stays within its limit in the window an outage
    starts in, as in the one it ends in.
    """
    seen, own = local_counters.seen.get(name, 0), local_counters.own.get(name, 0)
    return max(0, min(share(max(0, quota - seen)), share(quota) - own))


def shared_call(function, *args, on: str | None = None, **kwargs):
    """Call Redis through the breaker: the result, or None when Redis is unavailable.

    ``on`` names a key the call touches (on a cluster, all its keys share that key's slot): the
    breaker of its server guards the call. After an outage, what this process counted alone
    (on that server) is added to Redis's counters first.
    """
    guard = breaker_for(on)
    if not guard.allows():
        return None
    try:
        if guard.is_open:
            _add_local_counts(guard)
        result = function(*args, **kwargs)
    except OUTAGE_ERRORS as error:
        guard.failed(error)
        return None
    except Exception:
        logger.exception("Redis call %s failed: a bug, not an outage", function.__qualname__)
        raise
    guard.succeeded()
    return result


def _add_local_counts(guard) -> None:
    if guard is redis_breaker:
        taken = local_counters.take()
    else:  # a cluster node: its counters only (the others may still be away)
        taken = local_counters.take(lambda name: breaker_for(name) is guard)
    try:
        counters.add(taken)
    except OUTAGE_ERRORS:
        # Still away: keep counting alone, with what was counted so far.
        for name, count in taken.items():
            local_counters.counts[name] = local_counters.counts.get(name, 0) + count
        raise
