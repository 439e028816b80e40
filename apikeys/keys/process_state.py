"""One home for the request path's per-process state, reset after fork and between tests.

A web process keeps a few things of its own between requests: the circuit breaker and the
counters it counts with while Redis is away, the addresses it saw fail authentication too
often, when it last recorded each key's use, the compiled key lookup per database connection
and the scripts registered with its Redis client. They all live on ``state``; each map obeys
the same rule (``Bounded``: at most ``MAX_ENTRIES``, then it starts over, so no address or key
can grow a process's memory), and ``state.reset()`` empties them all. It runs in every child
after ``fork`` (gunicorn's workers, test processes: a child must not inherit its parent's
breaker or counts) and before each test.
"""

import os
import threading
import weakref

from perceptis import breaker
from perceptis.breaker import redis_breaker

MAX_ENTRIES = 50_000


class Bounded(dict):
    """A dict of at most ``MAX_ENTRIES`` entries: past that it is emptied and starts over."""

    def __setitem__(self, name, value):
        if name not in self and len(self) >= MAX_ENTRIES:
            self.clear()
        super().__setitem__(name, value)


class LocalCounters:
    """Counters this process counts with while Redis is unavailable (``fallback``)."""

    def __init__(self):
        self._lock = threading.Lock()
        self.counts = Bounded()  # what this process counted alone, not yet added to Redis
        self.seen = Bounded()  # the last shared count of each counter this process saw
        self.own = Bounded()  # how many of a shared counter's counts this process added
        # Counters this process counted alone and then gave to Redis, with how many it counted
        # since the outage began: the rest of their window is still judged at its share.
        self.since_outage = Bounded()

    def incr(self, name: str, ttl: int = 0) -> int:
        """Count one request alone; return what it is judged by: for a counter this process
        counted alone in an earlier outage of its window, every request since that began."""
        with self._lock:
            count = self.counts[name] = self.counts.get(name, 0) + 1
            return count + self.since_outage.get(name, 0)

    def get(self, name: str) -> int:
        """What ``incr`` would judge the counter by, without counting."""
        with self._lock:
            return self.counts.get(name, 0) + self.since_outage.get(name, 0)

    def saw(self, name: str, count: int) -> None:
        """Note one count this process added to the shared counter ``name``, now ``count``."""
        if count > 0:
            with self._lock:
                self.seen[name] = count
                self.own[name] = self.own.get(name, 0) + 1

    def take(self, select=None) -> dict[str, int]:
        """Return and forget what this process counted alone (to add it to Redis's counts):
        every counter, or those whose name ``select`` accepts (a cluster node's)."""
        with self._lock:
            if select is None:
                taken, self.counts = dict(self.counts), Bounded()
                return taken
            taken = {name: n for name, n in self.counts.items() if select(name)}
            for name in taken:
                del self.counts[name]
            return taken

    def handed_over(self, taken: dict[str, int]) -> None:
        """Note minute counters counted alone that Redis now holds (``since_outage``)."""
        with self._lock:
            for name, count in taken.items():
                self.since_outage[name] = self.since_outage.get(name, 0) + count

    def count_since_outage(self, name: str) -> int | None:
        """Count one more request on a counter this process counted alone in an outage that
        has ended; None for any other counter."""
        if name not in self.since_outage:  # every request asks: no lock for the usual answer
            return None
        with self._lock:
            if name not in self.since_outage:
                return None
            count = self.since_outage[name] = self.since_outage[name] + 1
            return count

    def put_back(self, taken: dict[str, int]) -> None:
        """Count alone again what ``take`` returned (Redis could not be given it)."""
        with self._lock:
            for name, count in taken.items():
                self.counts[name] = self.counts.get(name, 0) + count

    def own_counts(self, select=None) -> dict[str, int]:
        """What this process counted in Redis, per counter (all, or those ``select`` accepts)."""
        with self._lock:
            return {n: c for n, c in self.own.items() if select is None or select(n)}

    def clear(self) -> None:
        with self._lock:
            self.counts.clear()
            self.seen.clear()
            self.own.clear()
            self.since_outage.clear()


class ProcessState:
    def __init__(self):
        # The process's Redis breaker, shared with the pages' cache (perceptis.pagecache); on a
        # cluster, one per node besides (perceptis.breaker.breaker_for).
        self.breaker = redis_breaker
        self.counters = LocalCounters()
        self.reset()

    def reset(self) -> None:
        """Forget everything this process learned (after fork, between tests)."""
        breaker.reset_all()  # the breaker, and a cluster's one per node
        self.counters.clear()
        self.blocked = Bounded()  # client address -> the minute it reached the failure limit
        self.failed_keys = Bounded()  # hash of a key that failed a check -> the minute it did
        self.use_recorded = Bounded()  # key id -> when this process last recorded its use
        self.scripts = {}  # Lua source -> (Redis client, registered script)
        # The compiled key lookup per database connection object, dropped with the connection.
        self.key_queries = weakref.WeakKeyDictionary()


state = ProcessState()

os.register_at_fork(after_in_child=state.reset)
