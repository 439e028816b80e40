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
from dataclasses import dataclass, replace

from django.conf import settings

from apikeys.keys import counters
from apikeys.keys import redis_contract as contract
from apikeys.keys.errors import DailyQuotaExceeded, RateLimited
from apikeys.keys.fallback import (  # noqa: F401  (redis_breaker: tests and callers use it here)
    breaker_for,
    local_counters,
    redis_breaker,
    remaining_share,
    share,
    shared_call,
)
from apikeys.keys.models import ApiKey
from apikeys.keys.process_state import state
from apikeys.keys.redis_contract import Counts

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


def now() -> float:
    """The limiter's clock (tests replace ``time``)."""
    return time.time()


def _minute_key(key: ApiKey, window: int) -> str:
    return contract.MINUTE.format(organization=key.organization_id, key=key.pk, window=window)


def _day_key(key: ApiKey, day: int) -> str:
    return contract.DAY.format(organization=key.organization_id, key=key.pk, day=day)


def _org_day_key(organization_id: int, day: int) -> str:
    return contract.ORGANIZATION_DAY.format(organization=organization_id, day=day)


def _count(key: ApiKey, window: int, day: int, *, alone: bool) -> Counts:
    """Count one request by the contract's rule: in the shared cache, or in this process
    (``alone``, Redis being unavailable) against its share of each limit."""
    limit, quota = key.effective_rate_limit(), settings.APIKEYS_TEST_DAILY_QUOTA
    if alone:
        limit = remaining_share(_minute_key(key, window), limit)
        quota = remaining_share(_day_key(key, day), quota)
    return contract.count(
        local_counters.incr if alone else counters.incr,
        key=key.pk,
        organization=key.organization_id,
        test=key.type == ApiKey.Type.TEST,
        limit=limit,
        quota=quota,
        window=window,
        day=day,
    )


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
        counts = shared_call(_count, key, window, day, alone=False, on=_minute_key(key, window))
        if counts is None:
            counts, per_process = _count(key, window, day, alone=True), True
    quota = settings.APIKEYS_TEST_DAILY_QUOTA
    org_quota = key.organization.plan.test_daily_quota
    minute = _minute_key(key, window)
    if per_process:
        limit = remaining_share(minute, limit)
        quota = remaining_share(_day_key(key, day), quota)
        org_quota = remaining_share(_org_day_key(key.organization_id, day), org_quota)
    else:
        since_outage = local_counters.count_since_outage(minute)
        if since_outage is None:
            local_counters.saw(minute, counts.minute)
        else:  # counted alone earlier this minute: still held to this process's share
            share_left = remaining_share(minute, limit)
            if since_outage - share_left > counts.minute - limit:
                limit, counts, per_process = share_left, replace(counts, minute=since_outage), True
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
    window, day = int(now // 60), int(now // _DAY)
    shared_call(
        counters.refund,
        key.pk,
        key.organization_id,
        counts,
        window=window,
        day=day,
        on=_minute_key(key, window),
    )


def peek(key: ApiKey, *, now: float | None = None, counts: Counts | None = None) -> RateLimitState:
    """Return the limit state without counting a request (for refusals before the limiter)."""
    now = time.time() if now is None else now
    limit = key.effective_rate_limit()
    reset = max(1, int(60 - now % 60))
    if counts is not None and counts.minute > 0:
        return RateLimitState(limit, limit - counts.minute + 1, reset)
    name = _minute_key(key, int(now // 60))
    if breaker_for(name).is_open:
        limit = share(limit)
        return RateLimitState(limit, limit - local_counters.get(name), reset, True)
    count = shared_call(counters.get, name, on=name) or 0
    return RateLimitState(limit, limit - count, reset)


# --- Failed authentication, per client address ------------------------------------------------
# Random well-formed keys each cost a query: after APIKEYS_FAILED_AUTH_PER_MINUTE failed key
# checks from one address in a minute, the address is throttled until the minute ends. A
# throttled address gets 429 before any lookup for a malformed key and for a key that already
# failed this minute; any other key is checked, and served if it verifies, so one misconfigured
# client behind a shared address (a NAT) does not lock out the others. A key that does not
# verify gets 429 too, and is refused before any lookup for the rest of the minute. With Redis
# unavailable each process counts alone, at its share of the limit.
#
# ``state.blocked``: addresses this process saw reach the limit, with the minute they reached it
# in. The shared counter is only written (and read back) when a key check fails, so an
# authenticated request makes no extra cache round trip. Another process learns of a blocked
# address at its own next failure from it: an address gets at most the limit plus one failure
# per web process a minute. ``state.failed_keys``: the hashes of keys that failed, per minute.


def failed_auth_forget() -> None:
    """Forget this process's state: blocked addresses, counters, the breaker (tests)."""
    state.reset()


def _failed_key(ip: str | None, window: int) -> str:
    return contract.FAILED_AUTH.format(ip=ip or "-", window=window)


def _throttling() -> bool:
    return bool(settings.APIKEYS_FAILED_AUTH_PER_MINUTE and settings.APIKEYS_RATE_LIMITS_ENABLED)


def failed_auth_retry_after(ip: str | None, *, now: float | None = None) -> int | None:
    """Return the seconds until ``ip`` is no longer throttled, or None when it is not."""
    now = time.time() if now is None else now
    if not _throttling() or state.blocked.get(ip or "-") != int(now // 60):
        return None
    return max(1, int(60 - now % 60))


def failed_auth_known(secret_hash: str, *, now: float | None = None) -> bool:
    """Whether the key with this hash failed a check in this process this minute."""
    now = time.time() if now is None else now
    return state.failed_keys.get(secret_hash) == int(now // 60)


def failed_auth_record(
    ip: str | None, secret_hash: str | None = None, *, now: float | None = None
) -> None:
    """Count one failed key check from ``ip`` in the current minute; throttle it at the limit."""
    now = time.time() if now is None else now
    if not _throttling():
        return
    window = int(now // 60)
    if secret_hash is not None:
        state.failed_keys[secret_hash] = window
    limit = settings.APIKEYS_FAILED_AUTH_PER_MINUTE
    name = _failed_key(ip, window)
    failures = shared_call(counters.incr, name, contract.FAILED_AUTH_TTL, on=name)
    if failures is None:
        failures, limit = local_counters.incr(name), max(1, share(limit))
    if failures >= limit:
        state.blocked[ip or "-"] = window
