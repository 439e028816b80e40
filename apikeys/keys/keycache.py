"""The verified key records in Redis, read (and the request counted) in one call.

With ``REDIS_URL`` (and ``APIKEYS_KEY_CACHE`` on, the default there), an authenticated request
makes one Redis round trip and no key query: a Lua script reads the key's cached record (key,
organization, plan and secret state, keyed by the secret's hash), checks it against the
versions of its key and organization, counts the request against the per-minute limit and the
test-key quotas, and returns the read model the view asked for (a job's status body,
``jobs.status``). A miss or a stale record reads the database as before, then stores the
record and counts in a second call.

On Redis Cluster (``REDIS_CLUSTER``) every call touches one hash slot: the record lives in the
slot of its name (the secret's hash), everything else of the key in its organization's
(``redis_contract.ORGANIZATION_TAG``). A request is then two calls: the record, then the
versions, counters and read model in the organization's slot (``_fetch_on_cluster``); a miss
stores in two as well. Each call goes through the breaker of the node it reaches.

Freshness. Saving or deleting a key, one of its secrets, its organization or a plan (the
organizations on it) sets the versions concerned to Redis's clock on commit (``invalidate``);
a record whose versions differ is stale, so revocation, disable, rotation, plan change and the
like apply to the next request in every process. A record read from the database is stored
only if no version it depends on moved since the lookup began (the script compares with the
Redis time of the miss, less ``REDIS_CLUSTER_CLOCK_SKEW_MS`` on a cluster, whose nodes keep their
own clocks), so a lookup racing a change cannot store the old state; on a cluster the record
is stored with the versions that check read, so a change after it makes the record stale.
Expiry is checked on every request from the record's timestamps. A lost invalidation (Redis
unreachable at commit) is bounded by the record's lifetime, ``APIKEYS_KEY_CACHE_SECONDS``.

Without Redis (the embedded default) there is no record cache: each request reads the key from
the database, which every process shares, so the same guarantees hold with several processes.
Redis being unavailable, ``fetch`` and ``store`` return None (``fallback.shared_call``) and the
caller reads the database and counts alone. Key names, arguments and the scripts' source are
in ``redis_contract``; taking back a refused request's counts is in ``counters``; storing read
models in ``readmodels``.
"""

import pickle
from dataclasses import dataclass

from django.conf import settings

from apikeys.keys import redis_contract as contract
from apikeys.keys.fallback import shared_call
from apikeys.keys.redis_client import is_cluster, prefix, redis_configured, script
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
    return bool(settings.APIKEYS_KEY_CACHE) and redis_configured()


def _record_name(secret_hash: str, record_format: str) -> str:
    return contract.RECORD.format(format=record_format, secret_hash=secret_hash)


def _call(source: str, names: list[str], args: list):
    """Run a script over ``names`` (the contract's names, without the cache's prefix)."""
    return script(source)(keys=[prefix() + name for name in names], args=args)


def _flag(value: bool) -> str:
    return "1" if value else "0"


def fetch(
    secret_hash: str, *, record_format: str, window: int, day: int, count: bool, read=""
) -> "Found | Missing | None":
    """Read the record for ``secret_hash`` and count the request.

    Return ``Found``, ``Missing`` (a miss or a stale record), or None when Redis (on a
    cluster: the record's or the organization's node) is unavailable.
    """
    record = _record_name(secret_hash, record_format)
    if is_cluster():
        return _fetch_on_cluster(record, window=window, day=day, count=count, read=read)
    reply = shared_call(
        _call,
        contract.FETCH_LUA,
        [record],
        contract.FETCH.argv(prefix=prefix(), window=window, day=day, count=_flag(count), read=read),
        on=record,
    )
    if reply is None:
        return None
    if reply[0] != 2:
        return Missing(int(reply[1]))
    return _found(reply[1], reply[2:5], reply[5])


def _found(data, counts, read_model) -> Found:
    # Redis is ours alone, as for django-redis, which pickles every cached value.
    read_value = pickle.loads(read_model) if read_model else None  # noqa: S301
    return Found(pickle.loads(data), Counts(*map(int, counts)), read_value)  # noqa: S301


def _fetch_on_cluster(record: str, *, window: int, day: int, count: bool, read: str):
    # Two calls, each in one slot: the record (named by the secret's hash), then the versions
    # and counters in its organization's slot, which the record names.
    reply = shared_call(_call, contract.RECORD_GET_LUA, [record], [], on=record)
    if reply is None:
        return None
    if reply[0] == 0:
        # Timed by the record's node, while versions are timed by the organization's: less the
        # skew their clocks may have (a record read within it of a change is not stored: one
        # more miss, never a stale record).
        return Missing(int(reply[1]) - settings.REDIS_CLUSTER_CLOCK_SKEW_MS * 1000)
    fields = dict(zip(contract.RECORD_FIELDS, reply[1:], strict=True))
    names = contract.organization_names(
        key=int(fields["key"]),
        organization=int(fields["organization"]),
        window=window,
        day=day,
        read=read,
    )
    checked = shared_call(
        _call,
        contract.CHECK_LUA,
        names,
        contract.CHECK.argv(
            count=_flag(count),
            test=fields["test"],
            limit=fields["limit"],
            quota=fields["quota"],
            kv=fields["kv"],
            ov=fields["ov"],
            read="1" if read else "",
        ),
        on=names[0],
    )
    if checked is None:
        # The organization's node is away: the record cannot be checked against its versions,
        # so the database answers, and the request is counted alone.
        return None
    if checked[0] != 2:
        return Missing(int(checked[1]))
    return _found(fields["data"], checked[1:4], checked[4])


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
) -> Counts | None:
    """Store a record read from the database (unless it changed meanwhile) and count.

    Return the counts, or None when Redis is unavailable (the request is then counted alone).
    """
    name = _record_name(secret_hash, record.format)
    data = pickle.dumps(record.values, protocol=pickle.HIGHEST_PROTOCOL)
    fields = {
        "test": _flag(record.test),
        "limit": record.limit,
        "quota": record.quota,
    }
    if is_cluster():
        return _store_on_cluster(name, record, data, fields, since, window, day, count)
    reply = shared_call(
        _call,
        contract.STORE_LUA,
        [name],
        contract.STORE.argv(
            prefix=prefix(),
            window=window,
            day=day,
            count=_flag(count),
            since=since,
            key=record.key_pk,
            organization=record.organization_pk,
            data=data,
            seconds=settings.APIKEYS_KEY_CACHE_SECONDS,
            **fields,
        ),
        on=name,
    )
    return None if reply is None else Counts(*map(int, reply[1:4]))


def _store_on_cluster(name, record, data, fields, since, window, day, count) -> Counts | None:
    names = contract.organization_names(
        key=record.key_pk, organization=record.organization_pk, window=window, day=day, read=""
    )
    reply = shared_call(
        _call,
        contract.STORE_COUNT_LUA,
        names,
        contract.STORE_COUNT.argv(count=_flag(count), since=since, **fields),
        on=names[0],
    )
    if reply is None:
        return None
    if reply[0] == 1:
        # With the versions just read: a change after that read makes this record stale. A
        # failure here loses only the record (the next request misses again).
        shared_call(
            _call,
            contract.RECORD_PUT_LUA,
            [name],
            contract.RECORD_PUT.argv(
                key=record.key_pk,
                organization=record.organization_pk,
                kv=reply[1],
                ov=reply[2],
                data=data,
                seconds=settings.APIKEYS_KEY_CACHE_SECONDS,
                **fields,
            ),
            on=name,
        )
    return Counts(*map(int, reply[3:6]))


def version_groups(*, keys=(), organizations=()) -> list[list[str]]:
    """The version names of these keys (``(organization, key)`` pairs) and organizations, in
    calls of one slot each: one organization per call on a cluster, all in one otherwise."""
    groups: dict[int, list[str]] = {}
    for organization, key in keys:
        name = contract.KEY_VERSION.format(organization=organization, key=key)
        groups.setdefault(organization, []).append(name)
    for organization in organizations:
        name = contract.ORGANIZATION_VERSION.format(organization=organization)
        groups.setdefault(organization, []).append(name)
    if not is_cluster():
        return [[name for names in groups.values() for name in names]] if groups else []
    return list(groups.values())


def invalidate(names: list[str]) -> bool:
    """Move these versions (of one slot on a cluster) to Redis's clock: their records go stale."""
    _call(contract.BUMP_LUA, names, [])
    return True
