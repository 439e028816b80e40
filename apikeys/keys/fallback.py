"""What the request path does while Redis is unavailable: a circuit breaker and counting alone.

Every Redis call of the request path goes through ``shared_call``: after a failure the breaker
(``redis_breaker``) skips Redis for ``APIKEYS_REDIS_BREAKER_SECONDS``, and each process counts
on its own (``local_counters``) at its share of each limit: what is left of it as the process
last saw Redis count, divided by ``APIKEYS_WEB_PROCESSES`` and rounded down.
"""

import threading

# The process's Redis breaker and the share rule live in perceptis.breaker: the pages' cache
# (perceptis.pagecache) uses them too.
from perceptis.breaker import redis_breaker, share

__all__ = ["local_counters", "redis_breaker", "remaining_share", "share", "shared_call"]


class _LocalCounters:
    """This process's counters, used while Redis is unavailable; old windows are dropped."""

    def __init__(self):
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}
        self._seen: dict[str, int] = {}  # the last shared count of a day counter this process saw

    def incr(self, name: str) -> int:
        with self._lock:
            if len(self._counts) > 50_000:
                self._counts.clear()
            count = self._counts[name] = self._counts.get(name, 0) + 1
            return count

    def get(self, name: str) -> int:
        return self._counts.get(name, 0)

    def decr(self, name: str) -> None:
        with self._lock:
            if self._counts.get(name, 0) > 0:
                self._counts[name] -= 1

    def saw(self, name: str, count: int) -> None:
        if count > 0:
            if len(self._seen) > 50_000:
                self._seen.clear()
            self._seen[name] = count

    def seen(self, name: str) -> int:
        return self._seen.get(name, 0)

    def clear(self) -> None:
        with self._lock:
            self._counts.clear()
            self._seen.clear()


local_counters = _LocalCounters()


def remaining_share(name: str, quota: int) -> int:
    # What is left of a window's limit as this process last saw Redis count it, shared among
    # the processes. (Processes that saw less of it allow more: in the window an outage starts
    # in, a key may get up to one share more than its limit per such process.)
    return share(max(0, quota - local_counters.seen(name)))


def shared_call(function, *args, **kwargs):
    """Call Redis through the breaker: the result, or None when Redis is unavailable."""
    if not redis_breaker.allows():
        return None
    try:
        result = function(*args, **kwargs)
    except Exception as error:
        redis_breaker.failed(error)
        return None
    redis_breaker.succeeded()
    return result
