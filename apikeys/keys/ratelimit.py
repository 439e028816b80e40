"""Per-key request limits that hold across processes.

Fixed one-minute windows counted with an atomic increment in the shared cache (Redis ``INCR``
with ``REDIS_URL``, the local-memory cache otherwise), never DRF's read-modify-write throttles.
Test keys also have a daily quota per UTC day, per key and, from the plan, per organization
across all its test keys (so minting new test keys buys no extra requests). A request refused
by the per-minute limit does not count toward the daily quotas, nor one refused by the key's
quota toward the organization's.

If the cache is unreachable, requests are let through and the failure is logged: counting is
lost for that time, but authentication and revocation never depend on the cache.
"""

import logging
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

from apikeys.keys.errors import DailyQuotaExceeded, RateLimited
from apikeys.keys.models import ApiKey

logger = logging.getLogger(__name__)

_DAY = 86400


@dataclass(frozen=True)
class RateLimitState:
    limit: int
    remaining: int
    reset: int  # seconds until the window starts again

    def headers(self) -> dict[str, str]:
        return {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(max(self.remaining, 0)),
            "RateLimit-Reset": str(self.reset),
        }


class OverLimit(Exception):
    """A request over a limit: the error to answer, the limit state and when to retry."""

    def __init__(self, error, state: RateLimitState, retry_after: int):
        super().__init__(error.message)
        self.error = error
        self.state = state
        self.retry_after = retry_after


def _incr(cache_key: str, ttl: int) -> int:
    """Atomically add one to ``cache_key`` (created with ``ttl``) and return the new value."""
    client = getattr(cache, "client", None)
    if client is not None and hasattr(client, "get_client"):
        # django-redis: one INCR per request; the window's first request also sets the expiry.
        # (A process dying between the two leaves one counter without expiry; its window has
        # passed, so it is never read again. A pipeline or script would cost every request.)
        redis = client.get_client(write=True)
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


def _minute_key(key: ApiKey, window: int) -> str:
    return f"rl:m:{key.pk}:{window}"


def _day_key(key: ApiKey, day: int) -> str:
    return f"rl:d:{key.pk}:{day}"


def _org_day_key(organization_id: int, day: int) -> str:
    return f"rl:od:{organization_id}:{day}"


def hit(key: ApiKey, *, now: float | None = None) -> RateLimitState:
    """Count one request for ``key`` and return the limit state; raise ``OverLimit`` past it."""
    now = time.time() if now is None else now
    limit = key.effective_rate_limit()
    window = int(now // 60)
    reset = max(1, int(60 - now % 60))
    if not settings.APIKEYS_RATE_LIMITS_ENABLED:
        return RateLimitState(limit, limit, reset)
    try:
        count = _incr(_minute_key(key, window), 90)
    except Exception:
        logger.warning("Rate limit cache unavailable; request not counted", exc_info=True)
        return RateLimitState(limit, limit, reset)
    state = RateLimitState(limit, limit - count, reset)
    if count > limit:
        raise OverLimit(RateLimited(), state, reset)
    if key.type == ApiKey.Type.TEST:
        quota = settings.APIKEYS_TEST_DAILY_QUOTA
        day = int(now // _DAY)
        try:
            used = _incr(_day_key(key, day), _DAY + 3600)
        except Exception:
            logger.warning("Quota cache unavailable; request not counted", exc_info=True)
            return state
        until_midnight = max(1, int(_DAY - now % _DAY))
        if used > quota:
            raise OverLimit(DailyQuotaExceeded(), state, until_midnight)
        org_quota = key.organization.plan.test_daily_quota
        try:
            org_used = _incr(_org_day_key(key.organization_id, day), _DAY + 3600)
        except Exception:
            logger.warning("Quota cache unavailable; request not counted", exc_info=True)
            return state
        if org_used > org_quota:
            raise OverLimit(
                DailyQuotaExceeded(
                    f"The organization's test keys have used their {org_quota} requests for "
                    "today; the quota resets at 00:00 UTC."
                ),
                state,
                until_midnight,
            )
    return state


def peek(key: ApiKey, *, now: float | None = None) -> RateLimitState:
    """Return the limit state without counting a request (for refusals before the limiter)."""
    now = time.time() if now is None else now
    limit = key.effective_rate_limit()
    try:
        count = cache.get(_minute_key(key, int(now // 60))) or 0
    except Exception:
        count = 0
    return RateLimitState(limit, limit - int(count), max(1, int(60 - now % 60)))


# --- Failed authentication, per client address ------------------------------------------------
# Random well-formed keys each cost a query: after APIKEYS_FAILED_AUTH_PER_MINUTE failed key
# checks from one address in a minute, its bearer requests are refused before any lookup until
# the minute ends. With the cache down nothing is refused (authentication still reads the
# database, so revocation holds).


# Addresses this process saw reach the limit, with the minute they reached it in. The shared
# counter is only written (and read back) when a key check fails, so an authenticated request
# makes no extra cache round trip. Another process learns of a blocked address at its own next
# failure from it: an address gets at most the limit plus one failure per web process a minute.
_blocked: dict[str, int] = {}


def failed_auth_forget() -> None:
    """Forget the addresses this process blocked (the shared counters stay; tests use it)."""
    _blocked.clear()


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
    try:
        failures = _incr(_failed_key(ip, window), 90)
    except Exception:
        logger.warning("Failed-auth cache unavailable; failure not counted", exc_info=True)
        return
    if failures >= limit:
        if len(_blocked) > 10_000:  # only this minute's entries still matter
            for address in [a for a, w in _blocked.items() if w != window]:
                del _blocked[address]
        _blocked[ip or "-"] = window
