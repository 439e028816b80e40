"""Per-key request limits that hold across processes.

Fixed one-minute windows counted with an atomic increment in the shared cache (Redis ``INCR``
with ``REDIS_URL``, the local-memory cache otherwise), never DRF's read-modify-write throttles.
Test keys also have a daily quota per UTC day, per key and, from the plan, per organization
across all its test keys (so minting new test keys buys no extra requests). A request refused
by the per-minute limit does not count toward the daily quotas, nor one refused by the key's
quota toward the organization's.

With Redis, the key's record is read and the request counted in one script call when the key
is authenticated (``keycache``); ``decide`` then judges those counts. If Redis is unreachable
or hung, a circuit breaker (``redis_breaker``) stops trying it for a few seconds, and each
process counts on its own at its share of every limit (the limit divided by
``APIKEYS_WEB_PROCESSES``, rounded down), so no key gets more than its limit; responses say so
with ``RateLimit-Policy`` and the per-process figures. Limits never open for want of Redis.
"""

import logging
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

from apikeys.keys.errors import DailyQuotaExceeded, RateLimited
from apikeys.keys.fallback import (  # noqa: F401  (redis_breaker: tests and callers use it here)
    local_counters,
    redis_breaker,
    remaining_share,
    share,
    shared_call,
)
from apikeys.keys.keycache import Counts
from apikeys.keys.models import ApiKey

logger = logging.getLogger(__name__)

_DAY = 86400


@dataclass(frozen=True)
class RateLimitState:
    limit: int
    remaining: int
    reset: int  # seconds until the window starts again
    per_process: bool = False  # counted by this process alone, Redis being unavailable

    def headers(self) -> dict[str, str]:
        headers = {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(max(self.remaining, 0)),
            "RateLimit-Reset": str(self.reset),
        }
        if self.per_process:
            headers["RateLimit-Policy"] = f'"per-process";q={self.limit};w=60'
        return headers


def _redis():
    """The django-redis client, or None for other caches (local memory)."""
    client = getattr(cache, "client", None)
    if client is not None and hasattr(client, "get_client"):
        return client.get_client(write=True)
    return None


def _incr(cache_key: str, ttl: int) -> int:
    """Atomically add one to ``cache_key`` (created with ``ttl``) and return the new value."""
    redis = _redis()
    if redis is not None:
        # One INCR; the window's first request also sets the expiry. (A process dying between
        # the two leaves one counter without expiry; its window has passed, so it is never
        # read again.)
        full_key = cache.make_and_validate_key(cache_key)
        count = redis.incr(full_key)
        if count == 1:
            redis.expire(full_key, ttl)
        return int(count)
    # Other caches: a single increment, except for the window's first request.
    try:
        return cache.incr(cache_key)
    except ValueError:  # no counter yet
        if cache.add(cache_key, 1, ttl):
            return 1
        return cache.incr(cache_key)  # another process created it in between


def now() -> float:
    """The limiter's clock (tests replace ``time``)."""
    return time.time()


def _minute_key(key: ApiKey, window: int) -> str:
    return f"rl:m:{key.pk}:{window}"


def _day_key(key: ApiKey, day: int) -> str:
    return f"rl:d:{key.pk}:{day}"


def _org_day_key(organization_id: int, day: int) -> str:
    return f"rl:od:{organization_id}:{day}"


def _count_shared(key: ApiKey, window: int, day: int) -> Counts:
    """Count in the shared cache, in the order the fetch script does."""
    counts = Counts(_incr(_minute_key(key, window), 90))
    if key.type == ApiKey.Type.TEST and counts.minute <= key.effective_rate_limit():
        counts.day = _incr(_day_key(key, day), _DAY + 3600)
        if counts.day <= settings.APIKEYS_TEST_DAILY_QUOTA:
            counts.org_day = _incr(_org_day_key(key.organization_id, day), _DAY + 3600)
    return counts


def _count_local(key: ApiKey, window: int, day: int) -> Counts:
    minute = _minute_key(key, window)
    counts = Counts(local_counters.incr(minute))
    limit = remaining_share(minute, key.effective_rate_limit())
    if key.type == ApiKey.Type.TEST and counts.minute <= limit:
        counts.day = local_counters.incr(_day_key(key, day))
        if counts.day <= remaining_share(_day_key(key, day), settings.APIKEYS_TEST_DAILY_QUOTA):
            counts.org_day = local_counters.incr(_org_day_key(key.organization_id, day))
    return counts


def hit(key: ApiKey, *, now: float | None = None, counts: Counts | None = None) -> RateLimitState:
    """Count one request for ``key`` and return the limit state.

    Past a limit, raise ``RateLimited`` or ``DailyQuotaExceeded`` with ``Retry-After`` and the
    limit state's ``RateLimit-*`` headers.

    ``counts`` are what the authentication's script call already counted, if it did.
    """
    now = time.time() if now is None else now
    limit = key.effective_rate_limit()
    window, day = int(now // 60), int(now // _DAY)
    reset = max(1, int(60 - now % 60))
    if not settings.APIKEYS_RATE_LIMITS_ENABLED:
        return RateLimitState(limit, limit, reset)
    per_process = False
    if counts is None or counts.minute < 0:
        counts = shared_call(_count_shared, key, window, day)
        if counts is None:
            counts, per_process = _count_local(key, window, day), True
    quota = settings.APIKEYS_TEST_DAILY_QUOTA
    org_quota = key.organization.plan.test_daily_quota
    if per_process:
        limit = remaining_share(_minute_key(key, window), limit)
        quota = remaining_share(_day_key(key, day), quota)
        org_quota = remaining_share(_org_day_key(key.organization_id, day), org_quota)
    else:
        local_counters.saw(_minute_key(key, window), counts.minute)
        local_counters.saw(_day_key(key, day), counts.day)
        local_counters.saw(_org_day_key(key.organization_id, day), counts.org_day)
    state = RateLimitState(limit, limit - counts.minute, reset, per_process)
    if counts.minute > limit:
        raise RateLimited(retry_after=reset, headers=state.headers())
    until_midnight = max(1, int(_DAY - now % _DAY))
    if counts.day > quota:
        raise DailyQuotaExceeded(retry_after=until_midnight, headers=state.headers())
    if counts.org_day > org_quota:
        raise DailyQuotaExceeded(
            f"The organization's test keys have used their {org_quota} requests for "
            "today; the quota resets at 00:00 UTC.",
            retry_after=until_midnight,
            headers=state.headers(),
        )
    return state


def refund(key: ApiKey, counts: Counts, *, now: float) -> None:
    """Take back a request the authentication's script counted but the pipeline refused."""
    from apikeys.keys import keycache

    window, day = int(now // 60), int(now // _DAY)
    shared_call(keycache.refund, key.pk, key.organization_id, counts, window=window, day=day)


def peek(key: ApiKey, *, now: float | None = None, counts: Counts | None = None) -> RateLimitState:
    """Return the limit state without counting a request (for refusals before the limiter)."""
    now = time.time() if now is None else now
    limit = key.effective_rate_limit()
    reset = max(1, int(60 - now % 60))
    if counts is not None and counts.minute > 0:
        return RateLimitState(limit, limit - counts.minute + 1, reset)
    name = _minute_key(key, int(now // 60))
    if redis_breaker.is_open:
        limit = share(limit)
        return RateLimitState(limit, limit - local_counters.get(name), reset, True)
    try:
        count = cache.get(name) or 0
    except Exception as error:
        redis_breaker.failed(error)
        count = 0
    return RateLimitState(limit, limit - int(count), reset)


# --- Failed authentication, per client address ------------------------------------------------
# Random well-formed keys each cost a query: after APIKEYS_FAILED_AUTH_PER_MINUTE failed key
# checks from one address in a minute, its bearer requests are refused before any lookup until
# the minute ends. With Redis unavailable each process counts alone, at its share of the limit.


# Addresses this process saw reach the limit, with the minute they reached it in. The shared
# counter is only written (and read back) when a key check fails, so an authenticated request
# makes no extra cache round trip. Another process learns of a blocked address at its own next
# failure from it: an address gets at most the limit plus one failure per web process a minute.
_blocked: dict[str, int] = {}


def failed_auth_forget() -> None:
    """Forget this process's blocked addresses and local counters, close the breaker (tests)."""
    _blocked.clear()
    local_counters.clear()
    redis_breaker.reset()


def _failed_key(ip: str | None, window: int) -> str:
    return f"rl:af:{ip or '-'}:{window}"


def failed_auth_retry_after(ip: str | None, *, now: float | None = None) -> int | None:
    """Return the seconds until ``ip`` may try again, or None when it is under the limit."""
    now = time.time() if now is None else now
    if not settings.APIKEYS_FAILED_AUTH_PER_MINUTE or not settings.APIKEYS_RATE_LIMITS_ENABLED:
        return None
    if _blocked.get(ip or "-") != int(now // 60):
        return None
    return max(1, int(60 - now % 60))


def failed_auth_record(ip: str | None, *, now: float | None = None) -> None:
    """Count one failed key check from ``ip`` in the current minute; block it at the limit."""
    now = time.time() if now is None else now
    limit = settings.APIKEYS_FAILED_AUTH_PER_MINUTE
    if not limit or not settings.APIKEYS_RATE_LIMITS_ENABLED:
        return
    window = int(now // 60)
    name = _failed_key(ip, window)
    failures = shared_call(_incr, name, 90)
    if failures is None:
        failures, limit = local_counters.incr(name), max(1, share(limit))
    if failures >= limit:
        if len(_blocked) > 10_000:  # only this minute's entries still matter
            for address in [a for a, w in _blocked.items() if w != window]:
                del _blocked[address]
        _blocked[ip or "-"] = window
