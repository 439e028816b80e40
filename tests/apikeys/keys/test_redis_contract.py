"""The Redis contract: the Lua scripts count by the same rule as the Python the per-process
fallback uses, records are read only in the format they were written in, and only Redis's
connection and timeout errors count as an outage.

The conformance cases run through a ``redis-server`` the test starts (``own_redis``; skipped
with the reason where none is installed; CI has one), so they run on a laptop without
``REDIS_URL`` too.
"""

import logging
import pickle
import re
from unittest import mock

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ReadOnlyError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from apikeys.keys import counters, keycache, lookup
from apikeys.keys import redis_contract as contract
from apikeys.keys.fallback import redis_breaker, shared_call
from apikeys.keys.redis_client import prefix, redis_or_none

WINDOW, DAY = 29_000_000, 20_000
KEY, ORGANIZATION = 41, 7

# (test key, limit, quota, counts already there: minute, key's day, organization's day)
CASES = [
    (False, 10, 100, 0, 0, 0),
    (False, 10, 100, 9, 0, 0),
    (False, 10, 100, 10, 0, 0),  # over the minute's limit
    (True, 10, 100, 0, 0, 0),
    (True, 10, 100, 9, 50, 50),
    (True, 10, 100, 10, 50, 50),  # over the minute: the day is not counted
    (True, 10, 100, 3, 99, 10),  # the last of the key's quota
    (True, 10, 100, 3, 100, 10),  # over the key's quota: the organization's is not counted
    (True, 0, 0, 0, 0, 0),
    (False, 0, 0, 0, 0, 0),
]


def _names():
    return (
        contract.MINUTE.format(organization=ORGANIZATION, key=KEY, window=WINDOW),
        contract.DAY.format(organization=ORGANIZATION, key=KEY, day=DAY),
        contract.ORGANIZATION_DAY.format(organization=ORGANIZATION, day=DAY),
    )


def _python(test, limit, quota, already) -> tuple[contract.Counts, dict]:
    store = {name: n for name, n in zip(_names(), already, strict=True) if n}

    def incr(name, ttl):
        store[name] = store.get(name, 0) + 1
        return store[name]

    counts = contract.count(
        incr,
        key=KEY,
        organization=ORGANIZATION,
        test=test,
        limit=limit,
        quota=quota,
        window=WINDOW,
        day=DAY,
    )
    return counts, store


def _seed(redis, already) -> None:
    for name in _names():
        redis.delete(prefix() + name)
    for name, n in zip(_names(), already, strict=True):
        if n:
            redis.set(prefix() + name, n)


def _redis_counters(redis) -> dict:
    values = {name: redis.get(prefix() + name) for name in _names()}
    return {name: int(value) for name, value in values.items() if value is not None}


def _record(test, limit, quota) -> keycache.Record:
    return keycache.Record(
        key_pk=KEY,
        organization_pk=ORGANIZATION,
        test=test,
        limit=limit,
        quota=quota,
        values=("a", "record"),
        format=lookup.RECORD_FORMAT,
    )


@pytest.mark.parametrize("test, limit, quota, minute, day, org_day", CASES)
def test_the_store_script_counts_as_the_python_rule(
    own_redis, test, limit, quota, minute, day, org_day
):
    redis = redis_or_none()
    _seed(redis, (minute, day, org_day))
    expected, counters = _python(test, limit, quota, (minute, day, org_day))

    counts = keycache.store(
        "hash-store", _record(test, limit, quota), since=10**18, window=WINDOW, day=DAY, count=True
    )

    assert counts == expected
    assert _redis_counters(redis) == counters


@pytest.mark.parametrize("test, limit, quota, minute, day, org_day", CASES)
def test_the_fetch_script_counts_as_the_python_rule(
    own_redis, test, limit, quota, minute, day, org_day
):
    redis = redis_or_none()
    keycache.store(
        "hash-fetch", _record(test, limit, quota), since=10**18, window=1, day=1, count=False
    )
    _seed(redis, (minute, day, org_day))
    expected, counters = _python(test, limit, quota, (minute, day, org_day))

    found = keycache.fetch(
        "hash-fetch", record_format=lookup.RECORD_FORMAT, window=WINDOW, day=DAY, count=True
    )

    assert isinstance(found, keycache.Found)
    assert found.values == ("a", "record")
    assert found.counts == expected
    assert _redis_counters(redis) == counters


def test_the_scripts_give_each_counter_the_contracts_lifetime(own_redis):
    redis = redis_or_none()
    _seed(redis, (0, 0, 0))
    keycache.store(
        "hash-ttl", _record(True, 10, 100), since=10**18, window=WINDOW, day=DAY, count=True
    )
    minute, day, org_day = (redis.ttl(prefix() + name) for name in _names())
    assert contract.MINUTE_TTL - 5 < minute <= contract.MINUTE_TTL
    assert contract.DAY_TTL - 5 < day <= contract.DAY_TTL
    assert contract.DAY_TTL - 5 < org_day <= contract.DAY_TTL


@pytest.mark.parametrize(
    ("name", "lifetime"),
    [
        (contract.MINUTE.format(organization=ORGANIZATION, key=KEY, window=WINDOW), "MINUTE_TTL"),
        (contract.DAY.format(organization=ORGANIZATION, key=KEY, day=DAY), "DAY_TTL"),
        (contract.ORGANIZATION_DAY.format(organization=ORGANIZATION, day=DAY), "DAY_TTL"),
        (contract.FAILED_AUTH.format(ip="203.0.113.9", window=WINDOW), "FAILED_AUTH_TTL"),
        (contract.REVOKE_EXPOSED.format(ip="2001:db8::1", window=WINDOW), "MINUTE_TTL"),
    ],
)
def test_counts_given_back_after_an_outage_keep_their_kinds_lifetime(own_redis, name, lifetime):
    counters.add({name: 3})
    redis = redis_or_none()
    assert int(redis.get(prefix() + name)) == 3
    expected = getattr(contract, lifetime)
    assert expected - 5 < redis.ttl(prefix() + name) <= expected


def test_not_counting_counts_nothing_in_either(own_redis):
    redis = redis_or_none()
    _seed(redis, (0, 0, 0))
    counts = keycache.store(
        "hash-off", _record(True, 10, 100), since=10**18, window=WINDOW, day=DAY, count=False
    )
    assert counts == contract.Counts(-1, -1, -1)
    assert _redis_counters(redis) == {}


def test_a_record_of_another_format_is_not_read(own_redis):
    """A rolling deploy that changes the record's columns reads and writes other keys."""
    old = _record(False, 10, 100)
    old = keycache.Record(**{**old.__dict__, "format": "an-older-one"})
    keycache.store("hash-format", old, since=10**18, window=1, day=1, count=False)

    found = keycache.fetch(
        "hash-format", record_format=lookup.RECORD_FORMAT, window=1, day=1, count=False
    )
    assert isinstance(found, keycache.Missing)
    stored = redis_or_none().hget(
        prefix() + contract.RECORD.format(format="an-older-one", secret_hash="hash-format"), "data"
    )
    assert pickle.loads(stored) == ("a", "record")  # noqa: S301


def test_the_record_format_changes_with_the_records_columns():
    before = lookup.RECORD_FORMAT
    with mock.patch.object(lookup, "_PARTS", lookup._PARTS[:-1]):
        assert lookup._record_format() != before
    assert lookup._record_format() == before


def test_script_arguments_are_named_once():
    assert contract.FETCH.argv(prefix="p", window=1, day=2, count="1", read="") == [
        "p",
        1,
        2,
        "1",
        "",
    ]
    with pytest.raises(TypeError):
        contract.FETCH.argv(prefix="p", window=1, day=2, count="1")
    assert "local read = ARGV[5]" in contract.FETCH_LUA


@pytest.mark.parametrize(
    "error",
    [
        RedisConnectionError("refused"),
        RedisTimeoutError("timed out"),
        ReadOnlyError("READONLY You can't write against a read only replica."),
        OSError("reset"),
    ],
)
def test_connection_and_timeout_errors_are_an_outage(error):
    def call():
        raise error

    assert shared_call(call) is None
    assert redis_breaker.is_open


def test_any_other_redis_error_is_a_bug_raised_and_logged(caplog):
    def call():
        raise ResponseError("ERR Error running script: attempt to compare nil with number")

    caplog.set_level(logging.ERROR)
    with pytest.raises(ResponseError):
        shared_call(call)
    assert not redis_breaker.is_open
    assert [r for r in caplog.records if "a bug, not an outage" in r.getMessage() and r.exc_info]


# The names earlier releases wrote (ids are numbers), which a rolling deploy leaves in Redis.
EARLIER_NAMES = [
    r"ak:v:k:\d+",
    r"ak:v:o:\d+",
    r"ak:v:g",
    r"rl:m:\d+:\d+",
    r"rl:d:\d+:\d+",
    r"rl:od:\d+:\d+",
    r"ak:rm:\d+:.+",
    r"ak:x:.+",
]


def test_no_name_reuses_one_an_earlier_release_wrote():
    """A rolling deploy must never read a key of another type, or another meaning: the
    hash-tagged names never match an earlier release's."""
    names = contract.organization_names(key=41, organization=7, window=WINDOW, day=DAY, read="j")
    assert len(names) == 6
    for name in names:
        assert "{o7}" in name
        assert not [old for old in EARLIER_NAMES if re.fullmatch(old, name)], name
