"""The verified key record and the request counters in Redis, read and counted in one call.

With ``REDIS_URL`` (and ``APIKEYS_KEY_CACHE`` on, the default there), an authenticated request
makes one Redis round trip and no key query: a Lua script reads the key's cached record (key,
organization, plan and secret state, keyed by the secret's hash), checks it against the
versions of its key, organization and the plans, counts the request against the per-minute
limit and the test-key quotas, and returns a finished job's cached status body if the view
asked for one. A miss or a stale record reads the database as before, then stores the record
and counts in a second call.

Freshness. Saving or deleting a key, one of its secrets, its organization or any plan sets
that object's version to Redis's clock on commit (``invalidate``); a record whose versions
differ is stale, so revocation, disable, rotation, plan change and the like apply to the next
request in every process. A record read from the database is stored only if no version it
depends on moved since the lookup began (the script compares with the Redis time of the
miss), so a lookup racing a change cannot store the old state. Expiry is checked on every
request from the record's timestamps. A lost invalidation (Redis unreachable at commit) is
bounded by the record's lifetime, ``APIKEYS_KEY_CACHE_SECONDS``.

Without Redis (the embedded default) there is no record cache: each request reads the key from
the database, which every process shares, so the same guarantees hold with several processes.
Redis failures are the caller's to handle (``ratelimit`` falls back, see there).
"""

import pickle
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

# Counting, shared by both scripts. ARGV[2] window, ARGV[3] day, ARGV[4] "1" to count.
# The minute counter always counts; the key's day counter only within the minute's limit, and
# the organization's only within the key's quota (refusals never use up the next quota).
_COUNT = """
local function count(pre, pk, org, test, limit, quota, oquota)
  if ARGV[4] ~= '1' then return -1, -1, -1 end
  local mk = pre .. 'rl:m:' .. pk .. ':' .. ARGV[2]
  local n = redis.call('INCR', mk)
  if n == 1 then redis.call('EXPIRE', mk, 90) end
  local used, oused = -1, -1
  if test == '1' and n <= tonumber(limit) then
    local dk = pre .. 'rl:d:' .. pk .. ':' .. ARGV[3]
    used = redis.call('INCR', dk)
    if used == 1 then redis.call('EXPIRE', dk, 90000) end
    if used <= tonumber(quota) then
      local ok = pre .. 'rl:od:' .. org .. ':' .. ARGV[3]
      oused = redis.call('INCR', ok)
      if oused == 1 then redis.call('EXPIRE', ok, 90000) end
    end
  end
  return n, used, oused
end
local function versions(pre, pk, org)
  local v = redis.call('MGET', pre .. 'ak:v:k:' .. pk, pre .. 'ak:v:o:' .. org, pre .. 'ak:v:g')
  return v[1] or '0', v[2] or '0', v[3] or '0'
end
"""

# KEYS[1] the record; ARGV[1] prefix, [5] read-model name ('' for none).
# Returns {0, now_us} on a miss, {1, now_us} when stale, else {2, data, n, used, oused, read}.
_FETCH = (
    _COUNT
    + """
local pre = ARGV[1]
local r = redis.call('HMGET', KEYS[1], 'pk', 'org', 'test', 'limit', 'quota', 'oquota',
                     'kv', 'ov', 'gv', 'd')
if not r[1] then
  local t = redis.call('TIME')
  return {0, t[1] * 1000000 + t[2]}
end
local kv, ov, gv = versions(pre, r[1], r[2])
if kv ~= r[7] or ov ~= r[8] or gv ~= r[9] then
  local t = redis.call('TIME')
  return {1, t[1] * 1000000 + t[2]}
end
local n, used, oused = count(pre, r[1], r[2], r[3], r[4], r[5], r[6])
local read = false
if ARGV[5] ~= '' and n <= tonumber(r[4]) then
  read = redis.call('GET', pre .. 'ak:x:' .. r[1] .. ':' .. ARGV[5])
end
return {2, r[10], n, used, oused, read}
"""
)

# KEYS[1] the record; ARGV[1] prefix, [5] the miss's Redis time, [6] pk, [7] org, [8] test,
# [9] limit, [10] quota, [11] org quota, [12] data, [13] seconds to keep it.
# Returns {stored, n, used, oused}.
_STORE = (
    _COUNT
    + """
local pre = ARGV[1]
local kv, ov, gv = versions(pre, ARGV[6], ARGV[7])
local since = tonumber(ARGV[5])
local stored = 0
if tonumber(kv) <= since and tonumber(ov) <= since and tonumber(gv) <= since then
  redis.call('HSET', KEYS[1], 'pk', ARGV[6], 'org', ARGV[7], 'test', ARGV[8],
             'limit', ARGV[9], 'quota', ARGV[10], 'oquota', ARGV[11],
             'kv', kv, 'ov', ov, 'gv', gv, 'd', ARGV[12])
  redis.call('EXPIRE', KEYS[1], ARGV[13])
  stored = 1
end
local n, used, oused = count(pre, ARGV[6], ARGV[7], ARGV[8], ARGV[9], ARGV[10], ARGV[11])
return {stored, n, used, oused}
"""
)

# KEYS: version keys. Each becomes Redis's clock in microseconds, always moving forward.
_BUMP = """
local t = redis.call('TIME')
local now = t[1] * 1000000 + t[2]
for _, k in ipairs(KEYS) do
  local old = tonumber(redis.call('GET', k) or '0')
  local v = now
  if v <= old then v = old + 1 end
  redis.call('SET', k, string.format('%d', v))
end
return 1
"""


@dataclass
class Counts:
    """What one call counted: the minute's count and, for test keys, the day's (-1: not counted)."""

    minute: int
    day: int = -1
    org_day: int = -1


@dataclass
class Found:
    values: tuple  # the record's field values, as ``record_values`` made them
    counts: Counts
    read: object | None  # the cached read model the view asked for, or None


@dataclass
class Missing:
    since: int  # Redis time (µs) of the miss, for the store's race check


def enabled() -> bool:
    """Whether key records are cached: with Redis, unless ``APIKEYS_KEY_CACHE`` is off."""
    return bool(settings.APIKEYS_KEY_CACHE) and shared()


def shared() -> bool:
    """Whether the cache is Redis, shared by every process (else it is this process's)."""
    return _client_or_none() is not None


def _client_or_none():
    client = getattr(cache, "client", None)
    if client is None or not hasattr(client, "get_client"):
        return None
    return client


class _Scripts:
    """The registered scripts of one Redis client (django-redis keeps one per process)."""

    def __init__(self, redis):
        self.redis = redis
        self.fetch = redis.register_script(_FETCH)
        self.store = redis.register_script(_STORE)
        self.bump = redis.register_script(_BUMP)


_scripts: _Scripts | None = None


def _get_scripts() -> tuple[_Scripts, str]:
    global _scripts
    redis = cache.client.get_client(write=True)
    if _scripts is None or _scripts.redis is not redis:
        _scripts = _Scripts(redis)
    return _scripts, cache.make_key("")


def _record_key(prefix: str, secret_hash: str) -> str:
    return f"{prefix}ak:r:{secret_hash}"


def fetch(secret_hash: str, *, window: int, day: int, count: bool, read: str = ""):
    """Read the record for ``secret_hash`` and count the request: ``Found`` or ``Missing``."""
    scripts, prefix = _get_scripts()
    reply = scripts.fetch(
        keys=[_record_key(prefix, secret_hash)],
        args=[prefix, window, day, "1" if count else "0", read],
    )
    if reply[0] != 2:
        return Missing(int(reply[1]))
    # Redis is ours alone, as for django-redis, which pickles every cached value.
    read_value = pickle.loads(reply[5]) if reply[5] else None  # noqa: S301
    return Found(pickle.loads(reply[1]), Counts(*map(int, reply[2:5])), read_value)  # noqa: S301


@dataclass(frozen=True)
class Record:
    """What the script needs to count without decoding the record."""

    key_pk: int
    organization_pk: int
    test: bool
    limit: int
    quota: int
    org_quota: int
    values: tuple


def store(
    secret_hash: str, record: Record, *, since: int, window: int, day: int, count: bool
) -> Counts:
    """Store a record read from the database (unless it changed meanwhile) and count."""
    scripts, prefix = _get_scripts()
    reply = scripts.store(
        keys=[_record_key(prefix, secret_hash)],
        args=[
            prefix,
            window,
            day,
            "1" if count else "0",
            since,
            record.key_pk,
            record.organization_pk,
            "1" if record.test else "0",
            record.limit,
            record.quota,
            record.org_quota,
            pickle.dumps(record.values, protocol=pickle.HIGHEST_PROTOCOL),
            settings.APIKEYS_KEY_CACHE_SECONDS,
        ],
    )
    return Counts(*map(int, reply[1:4]))


def invalidate(*, keys=(), organizations=(), plans: bool = False) -> bool:
    """Make the records of these keys, organizations or of every key stale (one call)."""
    if not enabled():
        return
    scripts, prefix = _get_scripts()
    names = [f"{prefix}ak:v:k:{pk}" for pk in keys]
    names += [f"{prefix}ak:v:o:{pk}" for pk in organizations]
    if plans:
        names.append(f"{prefix}ak:v:g")
    if names:
        scripts.bump(keys=names)
    return True


def refund(key_pk: int, organization_pk: int, counts: Counts, *, window: int, day: int) -> None:
    """Take back what ``counts`` counted, for a request refused before the limiter."""
    redis = cache.client.get_client(write=True)
    prefix = cache.make_key("")
    pipe = redis.pipeline(transaction=False)
    if counts.minute > 0:
        pipe.decr(f"{prefix}rl:m:{key_pk}:{window}")
    if counts.day > 0:
        pipe.decr(f"{prefix}rl:d:{key_pk}:{day}")
    if counts.org_day > 0:
        pipe.decr(f"{prefix}rl:od:{organization_pk}:{day}")
    pipe.execute()


# --- Read models: a view's cached answer, per key ---------------------------------------------
# Stored under the key's id, so a key reads only what was cached for it. With Redis the fetch
# script returns it in the same call; otherwise it is this process's local-memory cache.


def read_model_key(key_pk: int, name: str) -> str:
    return f"ak:x:{key_pk}:{name}"


def read_model_put(key_pk: int, name: str, value, *, seconds: int) -> None:
    if _client_or_none() is not None:
        redis = cache.client.get_client(write=True)
        redis.set(
            cache.make_key(read_model_key(key_pk, name)),
            pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL),
            ex=seconds,
        )
    else:
        cache.set(read_model_key(key_pk, name), value, seconds)


def read_model_get(key_pk: int, name: str):
    """The read model, when the fetch script did not bring it (no key cache)."""
    if _client_or_none() is not None:
        value = cache.client.get_client(write=True).get(
            cache.make_key(read_model_key(key_pk, name))
        )
        return pickle.loads(value) if value else None  # noqa: S301
    return cache.get(read_model_key(key_pk, name))


def read_model_forget(key_pk: int, name: str) -> None:
    if _client_or_none() is not None:
        cache.client.get_client(write=True).delete(cache.make_key(read_model_key(key_pk, name)))
    else:
        cache.delete(read_model_key(key_pk, name))
