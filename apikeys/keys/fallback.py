"""What the request path does while Redis is unavailable: a circuit breaker and counting alone.

Every Redis call of the request path goes through ``shared_call``: after a connection error or
a timeout the breaker (``redis_breaker``) skips Redis for ``APIKEYS_REDIS_BREAKER_SECONDS``,
and each process counts on its own (``local_counters``) at its share of each limit
(``remaining_share``). When Redis answers again, the first call adds what the process counted
alone to Redis's counters before anything else, so the minute an outage ends in still allows
a key no more than its limit. Any other error from Redis (a script that fails, a wrong type)
is a bug, not an outage: it is logged as one and raised.
"""

import logging

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ReadOnlyError
from redis.exceptions import TimeoutError as RedisTimeoutError

from apikeys.keys import counters
from apikeys.keys.process_state import state
from perceptis.breaker import share

logger = logging.getLogger(__name__)

# One per process (``process_state``), for every Redis call on the request path and of the
# pages' cache (``perceptis.pagecache``): when one finds Redis gone, the other skips it too.
redis_breaker = state.breaker
local_counters = state.counters

# What an unreachable, hung, restarting or failing-over Redis raises: connection errors (a
# server still loading its data is one, ``BusyLoadingError``), timeouts, a replica that was
# written to while it took over (``ReadOnlyError``), and socket errors that escaped redis-py.
OUTAGE_ERRORS = (RedisConnectionError, RedisTimeoutError, ReadOnlyError, OSError)


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


def shared_call(function, *args, **kwargs):
    """Call Redis through the breaker: the result, or None when Redis is unavailable.

    After an outage, what this process counted alone is added to Redis's counters first.
    """
    if not redis_breaker.allows():
        return None
    try:
        if redis_breaker.is_open:
            _add_local_counts()
        result = function(*args, **kwargs)
    except OUTAGE_ERRORS as error:
        redis_breaker.failed(error)
        return None
    except Exception:
        logger.exception("Redis call %s failed: a bug, not an outage", function.__qualname__)
        raise
    redis_breaker.succeeded()
    return result


def _add_local_counts() -> None:
    taken = local_counters.take()
    try:
        counters.add(taken)
    except OUTAGE_ERRORS:
        # Still away: keep counting alone, with what was counted so far.
        for name, count in taken.items():
            local_counters.counts[name] = local_counters.counts.get(name, 0) + count
        raise
