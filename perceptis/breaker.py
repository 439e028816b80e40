"""A per-process circuit breaker for a shared dependency (Redis on the request path).

After a failure the breaker opens: for ``cooldown`` seconds callers skip the dependency and use
their fallback at once, so a hung server costs one socket timeout per process per interval
instead of one per request. The first call after the cooldown tries again; a success closes the
breaker. An outage logs one warning when it starts and one line when it ends, never a
traceback per request.

The call that gets through after an outage first runs the ``on_return`` hooks (``catch_up``):
what was done without the dependency is given back to it (the request path's counts,
``apikeys.keys.fallback``) before anything else, whichever caller probes first (an API request
or a page's cache read).

On one Redis there is one breaker per process (``redis_breaker``). On Redis Cluster there is one
per node (``breaker_for``): a node that fails sends only the keys of its slots to the fallback,
and the other nodes keep counting for everyone.
"""

import logging
import threading
import time
from collections.abc import Callable

from django.conf import settings
from redis.exceptions import ClusterDownError, ReadOnlyError, SlotNotCoveredError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger("perceptis.breaker")


# Run, with the breaker, by the first call that gets through after an outage, before its own
# work. A hook that finds the dependency still away raises an outage error: the call then fails
# as any other, and the next probe runs the hooks again.
on_return: list[Callable[["CircuitBreaker"], None]] = []


class CircuitBreaker:
    def __init__(
        self, name: str, *, cooldown: float | Callable[[], float], node: str | None = None
    ):
        self.name = name
        self.node = node  # a Redis Cluster node ("host:port"), or None for the one server
        self._cooldown = cooldown
        self._lock = threading.Lock()
        self._catching_up = threading.Lock()
        self._open_until = 0.0  # monotonic time; 0 while closed
        self._outage_since: float | None = None
        # The identity of the server this process last counted on (its ``run_id``; "" when
        # it cannot be told), to tell a server that came back empty from one out of reach.
        self.server_id: str | None = None

    @property
    def cooldown(self) -> float:
        return self._cooldown() if callable(self._cooldown) else self._cooldown

    @property
    def is_open(self) -> bool:
        return self._outage_since is not None

    def allows(self) -> bool:
        """Whether to try the dependency now: closed, or the cooldown has passed (one probe)."""
        if self._outage_since is None:
            return True
        now = time.monotonic()
        with self._lock:
            if now < self._open_until:
                return False
            # Let this caller probe; the others keep using the fallback meanwhile.
            self._open_until = now + self.cooldown
            return True

    def catch_up(self) -> None:
        """Before a probe's own work: run the ``on_return`` hooks if the breaker is open (once:
        a thread that probes meanwhile waits for them, then finds the breaker still open only
        if they failed)."""
        if self._outage_since is None:
            return
        with self._catching_up:
            if self._outage_since is None:
                return
            for hook in on_return:
                hook(self)
            self.succeeded()

    def failed(self, error: BaseException) -> None:
        now = time.monotonic()
        with self._lock:
            self._open_until = now + self.cooldown
            starting = self._outage_since is None
            if starting:
                self._outage_since = now
        if starting:
            logger.warning(
                "%s unavailable (%s: %s); using the fallback, retrying every %g s",
                self.name,
                type(error).__name__,
                str(error)[:200],
                self.cooldown,
            )

    def succeeded(self) -> None:
        if self._outage_since is None:
            return
        with self._lock:
            since, self._outage_since, self._open_until = self._outage_since, None, 0.0
        if since is not None:
            logger.warning("%s available again after %.1f s", self.name, time.monotonic() - since)

    def reset(self) -> None:
        """Close the breaker without logging (tests)."""
        with self._lock:
            self._outage_since, self._open_until = None, 0.0
        self.server_id = None


# One per process, for every Redis call of the request path (key records and counters,
# ``apikeys.keys.fallback``) and of the pages' cache (sign-in's limits, ``perceptis.pagecache``):
# when one finds Redis gone, the other skips it too.
redis_breaker = CircuitBreaker(
    "Redis (key records and rate limits)",
    cooldown=lambda: settings.APIKEYS_REDIS_BREAKER_SECONDS,
)


# What an unreachable, hung, restarting or failing-over Redis raises: connection errors (a
# server still loading its data is one, ``BusyLoadingError``), timeouts, a replica that was
# written to while it took over (``ReadOnlyError``), a cluster slot no node serves
# (``ClusterDownError``, ``SlotNotCoveredError``), and socket errors that escaped redis-py.
OUTAGE_ERRORS = (
    RedisConnectionError,
    RedisTimeoutError,
    ReadOnlyError,
    ClusterDownError,
    SlotNotCoveredError,
    OSError,
)

# Redis Cluster: one breaker per node ("host:port"), created on first use.
node_breakers: dict[str, CircuitBreaker] = {}


def breaker_for(client, full_key: str) -> CircuitBreaker:
    """The breaker guarding the server that holds ``full_key`` (a name with the cache's prefix).

    ``redis_breaker`` on one Redis; on a cluster the breaker of the node serving the key's slot,
    as the client last learned the slots' owners (no round trip). A slot the client knows no
    owner of falls to ``redis_breaker``.
    """
    nodes = getattr(client, "nodes_manager", None)
    if nodes is None:
        return redis_breaker
    try:
        node = nodes.get_node_from_slot(client.keyslot(full_key)).name
    except SlotNotCoveredError:
        return redis_breaker
    breaker = node_breakers.get(node)
    if breaker is None:
        breaker = node_breakers.setdefault(
            node,
            CircuitBreaker(
                f"Redis Cluster node {node}",
                cooldown=lambda: settings.APIKEYS_REDIS_BREAKER_SECONDS,
                node=node,
            ),
        )
    return breaker


def reset_all() -> None:
    """Close every breaker and forget the cluster's nodes (after fork, between tests)."""
    redis_breaker.reset()
    node_breakers.clear()


def share(limit: int) -> int:
    """This process's share of a limit while counting alone (rounded down: never over it)."""
    return limit // max(1, settings.APIKEYS_WEB_PROCESSES)
