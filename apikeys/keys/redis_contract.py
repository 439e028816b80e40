"""The request path's contract with Redis: key names, lifetimes, script arguments, counting rule.

Everything the Python code and the Lua scripts must agree on is written here once:

- ``Name`` templates of every key the request path reads or writes (without the cache's
  prefix, which ``django-redis`` adds), formatted in Python with ``Name.format`` and spelled
  into Lua with ``Name.lua``;
- the lifetime of each kind of counter (``MINUTE_TTL``, ``DAY_TTL``, ``FAILED_AUTH_TTL``);
- each script's arguments by name (``Script.args``): Python passes them with ``Script.argv``
  and the Lua source opens with ``local <name> = ARGV[i]`` for each, so a renamed or reordered
  argument breaks both sides at once;
- the counting rule, ``count``: the per-process fallback calls it, the shared path calls it with
  Redis's ``INCR``, and ``COUNT_LUA`` is the same rule for the scripts (a table-driven test runs
  the same cases through both, ``tests/apikeys/keys/test_redis_contract.py``).
"""

import string
from collections.abc import Callable
from dataclasses import dataclass

# A minute counter outlives its window by half a minute, a day counter its UTC day by an hour:
# long enough to be read while it counts, short enough that Redis forgets it on its own.
MINUTE_TTL = 90
DAY_TTL = 86400 + 3600
FAILED_AUTH_TTL = 90


@dataclass(frozen=True)
class Name:
    """A Redis key name with ``{placeholders}``, for Python and for the Lua scripts alike."""

    template: str

    def format(self, **values) -> str:
        return self.template.format(**values)

    def lua(self, **expressions: str) -> str:
        """Return a Lua expression building the name (``prefix`` first), a Lua expression for
        each placeholder."""
        parts = ["prefix"]
        for literal, field, _, _ in string.Formatter().parse(self.template):
            if literal:
                parts.append(repr(literal))
            if field is not None:
                parts.append(expressions[field])
        return " .. ".join(parts)


# The verified key record, per secret hash and record format (``lookup.RECORD_FORMAT``): a
# process reads only records written in the format it builds objects from.
RECORD = Name("ak:r:{format}:{secret_hash}")
# Versions (Redis time in µs of the last change) of a key, an organization, and of all plans.
KEY_VERSION = Name("ak:v:k:{key}")
ORGANIZATION_VERSION = Name("ak:v:o:{organization}")
PLANS_VERSION = Name("ak:v:g")
# Request counters: a key's minute and UTC day (test keys), an organization's day (test keys).
MINUTE = Name("rl:m:{key}:{window}")
DAY = Name("rl:d:{key}:{day}")
ORGANIZATION_DAY = Name("rl:od:{organization}:{day}")
# Failed key checks per client address and minute.
FAILED_AUTH = Name("rl:af:{ip}:{window}")
# A view's cached answer for one key (a job's status body): a hash of version and data. (Not
# ``ak:x:``, where earlier releases kept unversioned strings: a rolling deploy must never read
# a key of another type.)
READ_MODEL = Name("ak:rm:{key}:{name}")


@dataclass(frozen=True)
class Script:
    """A script's arguments by name, in ``ARGV`` order."""

    args: tuple[str, ...]

    def argv(self, **values) -> list:
        """Return ``ARGV`` for these named values (all of them, no others)."""
        if set(values) != set(self.args):
            raise TypeError(f"script arguments {sorted(values)} != {sorted(self.args)}")
        return [values[name] for name in self.args]

    def lua_locals(self) -> str:
        return "\n".join(f"local {name} = ARGV[{i}]" for i, name in enumerate(self.args, 1))


# Both scripts count: ``window`` and ``day`` number the minute and the UTC day, ``count`` is "1"
# to count (rate limits on). ``read`` names a read model to return ('' for none); ``since`` is
# the Redis time of the miss the record was read after; the rest is the record.
FETCH = Script(("prefix", "window", "day", "count", "read"))
STORE = Script(
    (
        "prefix",
        "window",
        "day",
        "count",
        "since",
        "key",
        "organization",
        "test",
        "limit",
        "quota",
        "data",
        "seconds",
    )
)
READ_MODEL_PUT = Script(("version", "data", "seconds"))


@dataclass
class Counts:
    """What one call counted: the minute's count and, for test keys, the day's (-1: not counted)."""

    minute: int
    day: int = -1
    org_day: int = -1


def count(
    incr: Callable[[str, int], int],
    *,
    key: int,
    organization: int,
    test: bool,
    limit: int,
    quota: int,
    window: int,
    day: int,
) -> Counts:
    """Count one request with ``incr(name, ttl)`` and return the counts.

    The minute counter always counts; a test key's day counter only within the minute's
    ``limit``, and the organization's only within the key's ``quota``, so a refused request
    never uses up the next quota. ``COUNT_LUA`` is this rule for the scripts.
    """
    counts = Counts(incr(MINUTE.format(key=key, window=window), MINUTE_TTL))
    if test and counts.minute <= limit:
        counts.day = incr(DAY.format(key=key, day=day), DAY_TTL)
        if counts.day <= quota:
            counts.org_day = incr(
                ORGANIZATION_DAY.format(organization=organization, day=day), DAY_TTL
            )
    return counts


# ``count`` in Lua, over the script's ``window``, ``day`` and ``count`` arguments.
COUNT_LUA = f"""
local function incr(name, ttl)
  local n = redis.call('INCR', name)
  if n == 1 then redis.call('EXPIRE', name, ttl) end
  return n
end
local function count_request(key, organization, test, limit, quota)
  if count ~= '1' then return -1, -1, -1 end
  local n = incr({MINUTE.lua(key="key", window="window")}, {MINUTE_TTL})
  local used, oused = -1, -1
  if test == '1' and n <= tonumber(limit) then
    used = incr({DAY.lua(key="key", day="day")}, {DAY_TTL})
    if used <= tonumber(quota) then
      oused = incr({ORGANIZATION_DAY.lua(organization="organization", day="day")}, {DAY_TTL})
    end
  end
  return n, used, oused
end
local function versions(key, organization)
  local v = redis.call('MGET', {KEY_VERSION.lua(key="key")},
                       {ORGANIZATION_VERSION.lua(organization="organization")},
                       {PLANS_VERSION.lua()})
  return v[1] or '0', v[2] or '0', v[3] or '0'
end
local function now_us()
  local t = redis.call('TIME')
  return t[1] * 1000000 + t[2]
end
"""

# KEYS[1] the record. Returns {0, now} on a miss, {1, now} when stale (now: Redis time in µs),
# else {2, data, minute, day, org_day, read model or false}.
FETCH_LUA = (
    FETCH.lua_locals()
    + COUNT_LUA
    + f"""
local r = redis.call('HMGET', KEYS[1], 'key', 'organization', 'test', 'limit', 'quota',
                     'kv', 'ov', 'gv', 'data')
if not r[1] then return {{0, now_us()}} end
local kv, ov, gv = versions(r[1], r[2])
if kv ~= r[6] or ov ~= r[7] or gv ~= r[8] then return {{1, now_us()}} end
local n, used, oused = count_request(r[1], r[2], r[3], r[4], r[5])
local model = false
if read ~= '' and n <= tonumber(r[4]) then
  model = redis.call('HGET', {READ_MODEL.lua(key="r[1]", name="read")}, 'data')
end
return {{2, r[9], n, used, oused, model}}
"""
)

# KEYS[1] the record. Stores it unless a version it depends on moved after ``since``.
# Returns {stored, minute, day, org_day}.
STORE_LUA = (
    STORE.lua_locals()
    + COUNT_LUA
    + """
local kv, ov, gv = versions(key, organization)
local after = tonumber(since)
local stored = 0
if tonumber(kv) <= after and tonumber(ov) <= after and tonumber(gv) <= after then
  redis.call('HSET', KEYS[1], 'key', key, 'organization', organization, 'test', test,
             'limit', limit, 'quota', quota, 'kv', kv, 'ov', ov, 'gv', gv, 'data', data)
  redis.call('EXPIRE', KEYS[1], seconds)
  stored = 1
end
local n, used, oused = count_request(key, organization, test, limit, quota)
return {stored, n, used, oused}
"""
)

# KEYS: version keys. Each becomes Redis's clock in microseconds, always moving forward.
BUMP_LUA = """
local now = redis.call('TIME')
now = now[1] * 1000000 + now[2]
for _, k in ipairs(KEYS) do
  local old = tonumber(redis.call('GET', k) or '0')
  local v = now
  if v <= old then v = old + 1 end
  redis.call('SET', k, string.format('%d', v))
end
return 1
"""

# KEYS[1] a read model. Written only over an older version: a late write never replaces a
# newer state. Returns 1 when written.
READ_MODEL_PUT_LUA = (
    READ_MODEL_PUT.lua_locals()
    + """
local old = redis.call('HGET', KEYS[1], 'version')
if old and tonumber(old) >= tonumber(version) then return 0 end
redis.call('HSET', KEYS[1], 'version', version, 'data', data)
redis.call('EXPIRE', KEYS[1], seconds)
return 1
"""
)
