"""Redis stopped or hung: keys are still checked against the database, every limit holds at
each process's share, a hung server costs one short timeout per breaker interval, and the log
holds one warning per outage, not a traceback per request."""

import logging

import pytest

from apikeys.keys import ratelimit
from apikeys.keys.services import apikey_revoke
from tests.helpers import SYSTEM, HungRedis, cache_on_redis

MISSING_JOB = "/api/v1/status/job_missing"


@pytest.fixture
def hung_redis(settings):
    """Return ``hang()``, which points the cache at a server that never answers."""
    server = HungRedis()

    def hang():
        cache_on_redis(settings, server.port, timeout=0.2)
        return server

    yield hang
    server.close()


@pytest.fixture
def outage(settings, caplog, one_minute):
    """Four requests a minute for the key, two web processes: a share of two each. Every request
    of the test falls in one minute, so no window ends between the last count in Redis and the
    first one without it."""
    settings.APIKEYS_WEB_PROCESSES = 2
    settings.APIKEYS_REDIS_BREAKER_SECONDS = 60
    caplog.set_level(logging.WARNING)
    return caplog


def _warnings(caplog):
    return [r for r in caplog.records if r.name == "perceptis.breaker"]


def _no_tracebacks(caplog):
    return not [r for r in caplog.records if r.exc_info]


def _send(client, n):
    return [client.get(MISSING_JOB) for _ in range(n)]


def test_with_redis_stopped_a_key_gets_its_share_and_no_more(
    org, make_key, client_for, own_redis, outage
):
    _, plaintext = make_key(org, rate_limit_per_minute=4)
    client = client_for(plaintext)
    before = client.get(MISSING_JOB)  # counted in Redis, and the key's record stored
    assert before.status_code == 404
    assert before["RateLimit-Remaining"] == "3"
    own_redis()

    responses = _send(client, 5)
    # One request of the minute went to Redis: this process may serve (4 - 1) // 2 more.
    assert [r.status_code for r in responses] == [404, 429, 429, 429, 429]
    assert responses[0]["RateLimit-Limit"] == "1"
    assert responses[0]["RateLimit-Remaining"] == "0"
    assert responses[0]["RateLimit-Policy"] == '"per-process";q=1;w=60'
    assert responses[1].json()["error"]["code"] == "rate_limited"
    assert len(_warnings(outage)) == 1
    assert _no_tracebacks(outage)


def test_with_redis_stopped_keys_are_still_checked_against_the_database(
    org, make_key, client_for, own_redis, outage
):
    key, plaintext = make_key(org)
    client = client_for(plaintext)
    assert client.get(MISSING_JOB).status_code == 404
    own_redis()
    apikey_revoke(key=key, actor=SYSTEM)  # its invalidation cannot reach Redis either
    refused = client.get(MISSING_JOB)
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "api_key_revoked"


def test_a_fresh_minute_without_redis_allows_each_process_its_share(
    org, make_key, client_for, own_redis, outage
):
    _, plaintext = make_key(org, rate_limit_per_minute=4)
    client = client_for(plaintext)
    own_redis()
    statuses = [r.status_code for r in _send(client, 4)]
    assert statuses == [404, 404, 429, 429]
    assert len(_warnings(outage)) == 1


def test_alone_a_process_never_counts_past_its_share_of_the_whole_limit(
    org, make_key, client_for, own_redis, outage
):
    # Ten a minute, two processes. This one counted 2 in Redis and last saw the counter at 2;
    # the other may have counted as many since, unseen. A share of what this process saw left
    # would be (10 - 2) // 2 = 4, and both processes together could pass 2 + 2 + 4 + 4 = 12.
    _, plaintext = make_key(org, rate_limit_per_minute=10)
    client = client_for(plaintext)
    assert [r.status_code for r in _send(client, 2)] == [404, 404]
    own_redis()
    statuses = [r.status_code for r in _send(client, 5)]
    assert statuses == [404, 404, 404, 429, 429]  # its share of 10 is 5, and it counted 2


def test_a_hung_redis_costs_one_timeout_per_breaker_interval(
    org, make_key, client_for, hung_redis, outage
):
    _, plaintext = make_key(org, rate_limit_per_minute=4)
    client = client_for(plaintext)
    server = hung_redis()
    responses = _send(client, 6)
    assert [r.status_code for r in responses] == [404, 404, 429, 429, 429, 429]
    assert responses[0]["RateLimit-Policy"] == '"per-process";q=2;w=60'
    # Only the first request tried Redis; the breaker kept the others away from it.
    assert server.connections == 1
    assert len(_warnings(outage)) == 1
    assert _no_tracebacks(outage)


def test_after_the_interval_one_request_probes_and_a_recovered_redis_counts_again(
    org, make_key, client_for, own_redis, outage, settings
):
    _, plaintext = make_key(org, rate_limit_per_minute=10)
    client = client_for(plaintext)
    assert client.get(MISSING_JOB).status_code == 404
    settings.APIKEYS_REDIS_BREAKER_SECONDS = 0
    ratelimit.redis_breaker.failed(ConnectionError("blip"))  # an outage whose interval is over
    response = client.get(MISSING_JOB)
    assert "RateLimit-Policy" not in response
    assert response["RateLimit-Remaining"] == "8"
    assert not ratelimit.redis_breaker.is_open
    messages = [r.getMessage() for r in _warnings(outage)]
    assert len(messages) == 2
    assert "unavailable" in messages[0]
    assert "available again" in messages[1]


def test_with_redis_stopped_a_test_key_gets_its_share_of_the_days_quota(
    make_org, make_key, client_for, own_redis, outage, settings
):
    settings.APIKEYS_TEST_DAILY_QUOTA = 5
    _, plaintext = make_key(make_org(credits=0), type="test")
    client = client_for(plaintext)
    assert client.get(MISSING_JOB).status_code == 404  # one of the day's five, in Redis
    own_redis()
    responses = _send(client, 4)
    # Its share of the day's five is two (rounded down), and it counted one: one more. (A
    # share of what was left, 4 // 2, would be two more, and the other process's two on top.)
    assert [r.status_code for r in responses] == [404, 429, 429, 429]
    assert responses[1].json()["error"]["code"] == "daily_quota_exceeded"
    assert len(_warnings(outage)) == 1
