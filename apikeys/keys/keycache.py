"""The verified key records in Redis, read (and the request counted) in one call.

With ``REDIS_URL`` (and ``APIKEYS_KEY_CACHE`` on, the default there), an authenticated request
makes one Redis round trip and no key query: a Lua script reads the key's cached record (key,
organization, plan and secret state, keyed by the secret's hash), checks it against the
versions of its key, organization and the plans, counts the request against the per-minute
limit and the test-key quotas, and returns the read model the view asked for (a job's status
body, ``jobs.status``). A miss or a stale record reads the database as before, then stores
the record and counts in a second call.

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
Redis failures are the caller's to handle (``fallback.shared_call``). Key names, arguments and
the scripts' source are in ``redis_contract``; taking back a refused request's counts is in
``counters``; storing read models in ``readmodels``.
"""

import pickle
from dataclasses import dataclass

from django.conf import settings

from apikeys.keys import redis_contract as contract
from apikeys.keys.redis_client import prefix, redis_or_none, script
from apikeys.keys.redis_contract import Counts


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
    return bool(settings.APIKEYS_KEY_CACHE) and redis_or_none() is not None


def _record_key(secret_hash: str, record_format: str) -> str:
    return prefix() + contract.RECORD.format(format=record_format, secret_hash=secret_hash)


def fetch(secret_hash: str, *, record_format: str, window: int, day: int, count: bool, read=""):
    """Read the record for ``secret_hash`` and count the request: ``Found`` or ``Missing``."""
    reply = script(contract.FETCH_LUA)(
        keys=[_record_key(secret_hash, record_format)],
        args=contract.FETCH.argv(
            prefix=prefix(), window=window, day=day, count="1" if count else "0", read=read
        ),
    )
    if reply[0] != 2:
        return Missing(int(reply[1]))
    # Redis is ours alone, as for django-redis, which pickles every cached value.
    read_value = pickle.loads(reply[5]) if reply[5] else None  # noqa: S301
    return Found(pickle.loads(reply[1]), Counts(*map(int, reply[2:5])), read_value)  # noqa: S301


@dataclass(frozen=True)
class Record:
    """What the script needs to count without decoding the record, and the record itself."""

    key_pk: int
    organization_pk: int
    test: bool
    limit: int
    quota: int
    values: tuple
    format: str  # ``lookup.RECORD_FORMAT``: the shape of ``values``


def store(
    secret_hash: str, record: Record, *, since: int, window: int, day: int, count: bool
) -> Counts:
    """Store a record read from the database (unless it changed meanwhile) and count."""
    reply = script(contract.STORE_LUA)(
        keys=[_record_key(secret_hash, record.format)],
        args=contract.STORE.argv(
            prefix=prefix(),
            window=window,
            day=day,
            count="1" if count else "0",
            since=since,
            key=record.key_pk,
            organization=record.organization_pk,
            test="1" if record.test else "0",
            limit=record.limit,
            quota=record.quota,
            data=pickle.dumps(record.values, protocol=pickle.HIGHEST_PROTOCOL),
            seconds=settings.APIKEYS_KEY_CACHE_SECONDS,
        ),
    )
    return Counts(*map(int, reply[1:4]))


def invalidate(*, keys=(), organizations=(), plans: bool = False) -> bool:
    """Make the records of these keys, organizations or of every key stale (one call)."""
    if not enabled():
        return False
    names = [contract.KEY_VERSION.format(key=pk) for pk in keys]
    names += [contract.ORGANIZATION_VERSION.format(organization=pk) for pk in organizations]
    if plans:
        names.append(contract.PLANS_VERSION.format())
    if names:
        script(contract.BUMP_LUA)(keys=[prefix() + name for name in names])
    return True
