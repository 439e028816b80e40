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
  Redis's ``INCR``, and ``COMMON_LUA``'s ``count_request`` is the same rule for the scripts (a
  table-driven test runs the same cases through both, ``tests/apikeys/keys/test_redis_contract.py``,
  and through the cluster's scripts, ``test_redis_cluster.py``);
- the hash-slot layout for Redis Cluster: every name of an organization carries its hash tag
  (``ORGANIZATION_TAG``), the record alone is in the slot of the secret's hash, and each script
  touches one slot (the single-Redis ``FETCH`` and ``STORE`` build their names at run time; the
  cluster's ``CHECK`` and ``STORE_COUNT`` take them all as ``KEYS``, ``organization_names``).
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

    @property
    def kind(self) -> str:
        """The literal start every name of this template shares (``rl:m:``)."""
        return self.template.split("{")[0]

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


# Hash tags. On Redis Cluster every key of one script call must live in one hash slot, so every
# name that belongs to an organization (its keys' versions, counters and read models) carries the
# organization's tag, ``{o<id>}``: Redis hashes only what is inside the braces. Only the record,
# named by the secret's hash before anything else is known, lives in a slot of its own.
ORGANIZATION_TAG = "{{o{organization}}}"

# The verified key record, per secret hash and record format (``lookup.RECORD_FORMAT``): a
# process reads only records written in the format it builds objects from.
RECORD = Name("ak:r:{format}:{secret_hash}")
# Versions (Redis time in µs of the last change) of a key and of an organization. A plan has no
# version of its own: changing it moves the versions of the organizations on it (a name shared
# by every organization could not share a slot with each of them).
KEY_VERSION = Name(f"ak:v:{ORGANIZATION_TAG}:k:{{key}}")
ORGANIZATION_VERSION = Name(f"ak:v:{ORGANIZATION_TAG}:o")
# Request counters: a key's minute and UTC day (test keys), an organization's day (test keys).
MINUTE = Name(f"rl:m:{ORGANIZATION_TAG}:{{key}}:{{window}}")
DAY = Name(f"rl:d:{ORGANIZATION_TAG}:{{key}}:{{day}}")
ORGANIZATION_DAY = Name(f"rl:od:{ORGANIZATION_TAG}:{{day}}")
# Failed key checks per client address and minute (one name per call: any slot).
FAILED_AUTH = Name("rl:af:{ip}:{window}")
# Requests to the public revocation of exposed keys per client address and minute (a minute's
# lifetime, ``MINUTE_TTL``).
REVOKE_EXPOSED = Name("rl:revoke-exposed:{ip}:{window}")
# A view's cached answer for one key (a job's status body): a hash of version and data.
READ_MODEL = Name(f"ak:rm:{ORGANIZATION_TAG}:{{key}}:{{name}}")
# Names are never reused for another type: a rolling deploy must never read a key of another
# type. (Earlier releases kept unversioned strings under ``ak:x:``, read models without a tag
# under ``ak:rm:<key>:``, versions under ``ak:v:k:``, ``ak:v:o:``, ``ak:v:g`` and counters
# without a tag; none of those is read any more.)


def organization_names(*, key: int, organization: int, window: int, day: int, read: str):
    """The names one request counts and checks, all in the organization's slot, as ``KEYS``
    of the cluster's scripts (``CHECK``, ``STORE_COUNT``): the key's and organization's
    versions, the minute, day and organization-day counters, and the read model (``read``,
    '' for none: then a name nobody writes)."""
    return [
        KEY_VERSION.format(organization=organization, key=key),
        ORGANIZATION_VERSION.format(organization=organization),
        MINUTE.format(organization=organization, key=key, window=window),
        DAY.format(organization=organization, key=key, day=day),
        ORGANIZATION_DAY.format(organization=organization, day=day),
        READ_MODEL.format(organization=organization, key=key, name=read),
    ]


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


# The scripts' arguments. ``count`` is "1" to count (rate limits on); ``window`` and ``day``
# number the minute and the UTC day; ``read`` names a read model to return ('' for none; "1" or
# '' in ``CHECK``, whose names are ``KEYS``); ``since`` is the Redis time of the miss the record
# was read after; ``kv`` and ``ov`` the versions a record was stored with; the rest is the record.
#
# On one Redis (or a primary with replicas) a request is one call, ``FETCH``, which reads the
# record and builds the names it then counts under from the record's key and organization. On
# Redis Cluster those names live in the organization's slot and the record in another, so a
# request is two single-slot calls: ``RECORD_GET`` (the record's slot) and then ``CHECK`` (the
# organization's, every name passed as ``KEYS``). A miss stores with ``STORE``, or on a cluster
# with ``STORE_COUNT`` and then ``RECORD_PUT``.
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
RECORD_GET = Script(())
CHECK = Script(("count", "test", "limit", "quota", "kv", "ov", "read"))
STORE_COUNT = Script(("count", "since", "test", "limit", "quota"))
RECORD_PUT = Script(
    ("key", "organization", "test", "limit", "quota", "kv", "ov", "data", "seconds")
)
READ_MODEL_PUT = Script(("version", "data", "seconds"))
# The record's fields, in the order the scripts read them.
RECORD_FIELDS = ("key", "organization", "test", "limit", "quota", "kv", "ov", "data")


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
    names = {"key": key, "organization": organization}
    counts = Counts(incr(MINUTE.format(**names, window=window), MINUTE_TTL))
    if test and counts.minute <= limit:
        counts.day = incr(DAY.format(**names, day=day), DAY_TTL)
        if counts.day <= quota:
            org_day = ORGANIZATION_DAY.format(organization=organization, day=day)
            counts.org_day = incr(org_day, DAY_TTL)
    return counts


# ``count`` in Lua (``count_request``, over the three counters' names and the script's ``count``
# argument), and the other pieces every script is built from.
COMMON_LUA = f"""
local function incr(name, ttl)
  local n = redis.call('INCR', name)
  if n == 1 then redis.call('EXPIRE', name, ttl) end
  return n
end
local function count_request(minute, day, org_day, test, limit, quota)
  if count ~= '1' then return -1, -1, -1 end
  local n = incr(minute, {MINUTE_TTL})
  local used, oused = -1, -1
  if test == '1' and n <= tonumber(limit) then
    used = incr(day, {DAY_TTL})
    if used <= tonumber(quota) then
      oused = incr(org_day, {DAY_TTL})
    end
  end
  return n, used, oused
end
local function versions(key_version, organization_version)
  local v = redis.call('MGET', key_version, organization_version)
  return v[1] or '0', v[2] or '0'
end
local function now_us()
  local t = redis.call('TIME')
  return t[1] * 1000000 + t[2]
end
local function record_put(name, key, organization, test, limit, quota, kv, ov, data, seconds)
  redis.call('HSET', name, 'key', key, 'organization', organization, 'test', test,
             'limit', limit, 'quota', quota, 'kv', kv, 'ov', ov, 'data', data)
  redis.call('EXPIRE', name, seconds)
end
"""

# One Redis: the names of a key's versions and counters, built from the record at run time.
NAMES_LUA = f"""
local function names(key, organization)
  return {KEY_VERSION.lua(organization="organization", key="key")},
         {ORGANIZATION_VERSION.lua(organization="organization")},
         {MINUTE.lua(organization="organization", key="key", window="window")},
         {DAY.lua(organization="organization", key="key", day="day")},
         {ORGANIZATION_DAY.lua(organization="organization", day="day")}
end
"""

_FIELDS_LUA = ", ".join(repr(field) for field in RECORD_FIELDS)

# One Redis. KEYS[1] the record. Returns {0, now} on a miss, {1, now} when stale (now: Redis
# time in µs), else {2, data, minute, day, org_day, read model or false}.
FETCH_LUA = (
    FETCH.lua_locals()
    + COMMON_LUA
    + NAMES_LUA
    + f"""
local r = redis.call('HMGET', KEYS[1], {_FIELDS_LUA})
if not r[1] then return {{0, now_us()}} end
local key_version, organization_version, minute, day_name, org_day = names(r[1], r[2])
local kv, ov = versions(key_version, organization_version)
if kv ~= r[6] or ov ~= r[7] then return {{1, now_us()}} end
local n, used, oused = count_request(minute, day_name, org_day, r[3], r[4], r[5])
local model = false
if read ~= '' and n <= tonumber(r[4]) then
  model = redis.call('HGET', {READ_MODEL.lua(organization="r[2]", key="r[1]", name="read")}, 'data')
end
return {{2, r[8], n, used, oused, model}}
"""
)

# One Redis. KEYS[1] the record. Stores it unless a version it depends on moved after
# ``since``. Returns {stored, minute, day, org_day}.
STORE_LUA = (
    STORE.lua_locals()
    + COMMON_LUA
    + NAMES_LUA
    + """
local key_version, organization_version, minute, day_name, org_day = names(key, organization)
local kv, ov = versions(key_version, organization_version)
local after = tonumber(since)
local stored = 0
if tonumber(kv) <= after and tonumber(ov) <= after then
  record_put(KEYS[1], key, organization, test, limit, quota, kv, ov, data, seconds)
  stored = 1
end
local n, used, oused = count_request(minute, day_name, org_day, test, limit, quota)
return {stored, n, used, oused}
"""
)

# Cluster, the record's slot. KEYS[1] the record. Returns {0, now} on a miss (now: this node's
# time in µs), else {1, <the record's fields in RECORD_FIELDS order>}.
RECORD_GET_LUA = (
    COMMON_LUA
    + f"""
local r = redis.call('HMGET', KEYS[1], {_FIELDS_LUA})
if not r[1] then return {{0, now_us()}} end
return {{1, r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8]}}
"""
)

# Cluster, the organization's slot. KEYS: ``organization_names``. Checks the record's versions
# and counts. Returns {1, now} when stale (now: this node's time in µs), else {2, minute, day,
# org_day, read model or false}.
CHECK_LUA = (
    CHECK.lua_locals()
    + COMMON_LUA
    + """
local kv_now, ov_now = versions(KEYS[1], KEYS[2])
if kv_now ~= kv or ov_now ~= ov then return {1, now_us()} end
local n, used, oused = count_request(KEYS[3], KEYS[4], KEYS[5], test, limit, quota)
local model = false
if read ~= '' and n <= tonumber(limit) then model = redis.call('HGET', KEYS[6], 'data') end
return {2, n, used, oused, model}
"""
)

# Cluster, the organization's slot. KEYS: ``organization_names``. Counts, and returns whether a
# record read after ``since`` may be stored with the versions returned: {fresh, kv, ov, minute,
# day, org_day}.
STORE_COUNT_LUA = (
    STORE_COUNT.lua_locals()
    + COMMON_LUA
    + """
local kv, ov = versions(KEYS[1], KEYS[2])
local after = tonumber(since)
local fresh = 0
if tonumber(kv) <= after and tonumber(ov) <= after then fresh = 1 end
local n, used, oused = count_request(KEYS[3], KEYS[4], KEYS[5], test, limit, quota)
return {fresh, kv, ov, n, used, oused}
"""
)

# Cluster, the record's slot. KEYS[1] the record, stored with the versions ``STORE_COUNT``
# read: a change after that read moves a version, and the record is stale from then on.
RECORD_PUT_LUA = (
    RECORD_PUT.lua_locals()
    + COMMON_LUA
    + """
record_put(KEYS[1], key, organization, test, limit, quota, kv, ov, data, seconds)
return 1
"""
)

# KEYS: version keys, all in one slot (one organization's) on a cluster. Each becomes Redis's
# clock in microseconds, always moving forward.
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
