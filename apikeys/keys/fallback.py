"""What the request path does while Redis is unavailable: a circuit breaker and counting alone.

Every Redis call of the request path goes through ``shared_call``: after a connection error or
a timeout the breaker (``redis_breaker``; on Redis Cluster the breaker of the node that holds the
call's keys, ``breaker_for``) skips Redis for ``APIKEYS_REDIS_BREAKER_SECONDS``, and each
process counts on its own (``local_counters``) at its share of each limit
(``remaining_share``). When Redis answers again, the first call (an API request's, or a page
cache's: ``breaker.on_return``) adds what the process counted alone to Redis's counters before
anything else, so the minute an outage ends in still allows a key no more than its limit (on a
cluster: the counters of the node that answers again).

Redis's counter alone is not enough for the rest of that minute: until every process has
given back its counts (each does at its next call), or when Redis came back empty, it holds
less than was counted. So a process that counted a key's minute alone keeps judging the rest of
that minute at the share it had when the outage began (``remaining_share``, with every request
it counted since), besides Redis's count: the minute then allows no more than its limit,
whatever order the processes come back in.

A Redis that comes back empty (restarted without persistence, its ``run_id`` changed) has lost
the counts taken before the outage too: each process then also adds back what it had counted
in Redis (``LocalCounters.own``), so across a restart the counters again hold every request
of the window. (A process that made no call while Redis was away cannot tell, and its counts
from before are lost with the server's; a replica promoted with its data is told apart from
its old master by its ``run_id`` too, and gets them twice: a stricter limit for the rest of
the window, never a looser one.)

Any other error from Redis (a script that fails, a wrong type) is a bug, not an outage: it is
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
        guard.catch_up()
        result = function(*args, **kwargs)
        if guard.server_id is None:  # the first call through this server: learn which it is
            guard.server_id = counters.server_id(guard.node)
    except OUTAGE_ERRORS as error:
        guard.failed(error)
        return None
    except Exception:
        logger.exception("Redis call %s failed: a bug, not an outage", function.__qualname__)
        raise
    guard.succeeded()
    return result


def _add_local_counts(guard) -> None:
    """``breaker.on_return``'s hook: add what this process counted alone while the server
    behind ``guard`` was away, and if it came back empty, what it had counted there before."""
    select = None
    if guard is not redis_breaker:  # a cluster node: its counters only (others may be away)
        select = lambda name: breaker_for(name) is guard  # noqa: E731
    server_id = counters.server_id(guard.node)
    restarted = bool(guard.server_id and server_id) and server_id != guard.server_id
    taken = local_counters.take(select)
    lost = local_counters.own_counts(select) if restarted else {}
    try:
        counters.add({name: taken.get(name, 0) + lost.get(name, 0) for name in taken | lost})
    except OUTAGE_ERRORS:
        local_counters.put_back(taken)  # still away: keep counting alone, from there
        raise
    local_counters.handed_over({name: n for name, n in taken.items() if counters.is_minute(name)})
    guard.server_id = server_id
    if restarted:
        logger.warning("%s came back empty: this process's counts were added again", guard.name)


breaker.on_return.append(_add_local_counts)
