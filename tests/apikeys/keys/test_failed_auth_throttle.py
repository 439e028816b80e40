"""Failed key checks are throttled per client address, and logged as one row per address and
minute: random keys cost the sender, not us."""

from datetime import UTC, datetime
from unittest import mock

import pytest
from django.conf import settings as django_settings
from django.utils import timezone
from rest_framework.test import APIClient

from apikeys.keys import counters, keyformat, ratelimit
from apikeys.usage import metering
from apikeys.usage.models import RequestLog
from tests.helpers import bearer

NOW = 1_800_000_000.0  # the start of a minute
ATTACKER, OTHER = "198.51.100.7", "198.51.100.8"


@pytest.fixture
def clock(monkeypatch):
    """The limiter's and the request log's clock, set with ``clock.now = ...``."""

    class Clock:
        now = NOW + 5

    monkeypatch.setattr(ratelimit.time, "time", lambda: Clock.now)
    monkeypatch.setattr(timezone, "now", lambda: datetime.fromtimestamp(Clock.now, tz=UTC))
    return Clock


def attempt(plaintext: str, ip: str = ATTACKER):
    client = APIClient()
    return client.get("/api/v1/status/job_x", HTTP_AUTHORIZATION=bearer(plaintext), REMOTE_ADDR=ip)


def test_the_default_limit_is_60_a_minute():
    assert django_settings.APIKEYS_FAILED_AUTH_PER_MINUTE == 60


def test_an_address_past_the_limit_gets_429_before_any_lookup_for_malformed_and_failed_keys(
    settings, clock, live_key, django_assert_num_queries
):
    settings.APIKEYS_FAILED_AUTH_PER_MINUTE = 5
    guesses = [keyformat.generate("live") for _ in range(5)]
    for guess in guesses:
        assert attempt(guess).status_code == 401

    for refused in ("sk-live-per-garbage", "", guesses[0], guesses[-1]):
        with django_assert_num_queries(0):
            response = attempt(refused)
        assert response.status_code == 429, refused
        assert response.json()["error"]["code"] == "too_many_failed_attempts"
        assert int(response["Retry-After"]) == 55


def test_a_valid_key_from_a_throttled_address_is_served(settings, clock, live_key):
    """One misconfigured client behind a shared address does not lock out the others."""
    settings.APIKEYS_FAILED_AUTH_PER_MINUTE = 3
    for _ in range(3):
        attempt(keyformat.generate("live"))
    assert attempt("sk-live-per-garbage").status_code == 429

    response = attempt(live_key[1])
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "job_not_found"


def test_a_new_guess_from_a_throttled_address_is_checked_once_then_refused_unread(
    settings, clock, live_key, django_assert_max_num_queries, django_assert_num_queries
):
    settings.APIKEYS_FAILED_AUTH_PER_MINUTE = 3
    for _ in range(3):
        attempt(keyformat.generate("live"))
    guess = keyformat.generate("live")

    with django_assert_max_num_queries(1):
        first = attempt(guess)
    with django_assert_num_queries(0):
        again = attempt(guess)
    assert (first.status_code, again.status_code) == (429, 429)
    assert first.json()["error"]["code"] == "too_many_failed_attempts"


def test_a_revoked_key_from_a_throttled_address_gets_429_not_its_status(
    settings, clock, org, make_key
):
    from apikeys.keys.services import apikey_revoke
    from tests.helpers import SYSTEM

    key, plaintext = make_key(org)
    apikey_revoke(key=key, actor=SYSTEM)
    settings.APIKEYS_FAILED_AUTH_PER_MINUTE = 2
    for _ in range(2):
        attempt(keyformat.generate("live"))
    assert attempt(plaintext).status_code == 429


def test_the_block_ends_with_the_minute(settings, clock, live_key):
    settings.APIKEYS_FAILED_AUTH_PER_MINUTE = 3
    guess = keyformat.generate("live")
    for _ in range(3):
        attempt(guess)
    assert attempt(guess).status_code == 429
    clock.now = NOW + 60
    assert attempt(guess).status_code == 401


def test_successful_requests_do_not_count(settings, clock, live_key):
    settings.APIKEYS_FAILED_AUTH_PER_MINUTE = 2
    for _ in range(5):
        assert attempt(live_key[1]).status_code == 404
    assert attempt(keyformat.generate("live")).status_code == 401


def test_failures_are_one_request_log_row_per_address_and_minute(settings, clock, db):
    settings.APIKEYS_FAILED_AUTH_PER_MINUTE = 1000
    for _ in range(7):
        attempt(keyformat.generate("live"))
    attempt(keyformat.generate("live"), ip=OTHER)
    metering.flush()
    for _ in range(3):
        attempt("sk-live-per-short")
    metering.flush()

    rows = {row.client_ip: row for row in RequestLog.objects.all()}
    assert set(rows) == {ATTACKER, OTHER}
    assert (rows[ATTACKER].count, rows[ATTACKER].status) == (10, 401)
    assert rows[ATTACKER].api_key_id is None
    assert rows[ATTACKER].created_at.second == 0
    assert rows[OTHER].count == 1


def test_throttled_requests_are_aggregated_too(settings, clock, db):
    settings.APIKEYS_FAILED_AUTH_PER_MINUTE = 2
    for _ in range(6):
        attempt(keyformat.generate("live"))
    metering.flush()
    row = RequestLog.objects.get()
    assert row.count == 6


def test_with_the_cache_down_each_process_counts_failures_at_its_share(settings, clock, live_key):
    settings.APIKEYS_FAILED_AUTH_PER_MINUTE = 4
    settings.APIKEYS_WEB_PROCESSES = 2
    with (
        mock.patch.object(counters, "get", side_effect=ConnectionError("down")),
        mock.patch.object(counters, "incr", side_effect=ConnectionError("down")),
    ):
        for _ in range(2):
            assert attempt(keyformat.generate("live")).status_code == 401
        assert attempt(keyformat.generate("live")).status_code == 429
        # Another address's key is still checked against the database.
        assert attempt(live_key[1], ip="198.51.100.9").status_code == 404


def test_the_throttle_holds_on_redis_and_when_redis_stops(settings, clock, live_key, own_redis):
    settings.APIKEYS_FAILED_AUTH_PER_MINUTE = 3
    settings.APIKEYS_WEB_PROCESSES = 1
    for _ in range(3):
        assert attempt(keyformat.generate("live")).status_code == 401
    assert attempt(keyformat.generate("live")).status_code == 429

    own_redis()
    # The address this process blocked stays blocked for the minute (fail closed); others are
    # counted by this process alone, and their keys are still checked against the database.
    assert attempt("sk-live-per-garbage").status_code == 429
    assert attempt(live_key[1]).status_code == 404
    assert attempt(keyformat.generate("live"), ip="198.51.100.9").status_code == 401
    assert attempt(live_key[1], ip="198.51.100.9").status_code == 404


def test_an_authenticated_request_reads_no_failure_counter(live_key):
    """The throttle costs a successful request nothing: the counter is touched on failures."""
    from django.core.cache import cache

    reads = []
    original = cache.get
    cache.get = lambda *args, **kwargs: reads.append(args[0]) or original(*args, **kwargs)
    try:
        assert attempt(live_key[1]).status_code == 404
    finally:
        cache.get = original
    assert not [key for key in reads if str(key).startswith("rl:af:")]
