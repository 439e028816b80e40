"""When Redis comes back after an outage, what each process counted alone is added to Redis's
counters, so a key passes at most its limit in the minute an outage starts and ends in: whatever
order the processes come back in, and when Redis comes back empty."""

import shutil
import subprocess
import time
from types import SimpleNamespace

import pytest
from django.conf import settings as django_settings
from django.core.cache import cache
from django.db import connection

from apikeys.keys.fallback import local_counters
from perceptis import breaker
from perceptis.breaker import redis_breaker
from tests.helpers import cache_on_redis
from tests.processes import free_port, wait_for
from tests.spawn_clients import serve_in_phases

MISSING_JOB = "/api/v1/status/job_missing"  # 404 once the limiter let the request through
MOMENT = 1_800_000_001.0  # one second into a minute


class RedisServer:
    """A redis-server on a fixed port, stopped and started again by pid (no persistence)."""

    def __init__(self):
        self.binary = shutil.which("redis-server")
        if self.binary is None:
            pytest.skip("needs redis-server")
        self.port = free_port()
        self.process = None

    def start(self):
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
            + ["--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(self._answers, timeout=10, what="redis-server")

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=10)

    def _answers(self) -> bool:
        import redis

        try:
            return redis.Redis(port=self.port, socket_timeout=0.5).ping()
        except redis.exceptions.ConnectionError:
            return False


@pytest.fixture
def redis_server():
    server = RedisServer()
    server.start()
    yield server
    if server.process.poll() is None:
        server.stop()


def _down_then_up(redis_server, plaintext, per_phase):
    """Serve ``per_phase`` requests from each of two processes: Redis up, down, then back up
    empty (restarted without persistence). Return each process's status codes per phase."""
    env = {
        "REDIS_URL": f"redis://127.0.0.1:{redis_server.port}/0",
        "APIKEYS_WEB_PROCESSES": "2",
        "APIKEYS_REDIS_BREAKER_SECONDS": "0.2",
        "REDIS_TIMEOUT_SECONDS": "0.5",
    }

    def between(phase):
        if phase == 0:
            redis_server.stop()  # Redis goes down
        else:
            redis_server.start()  # it comes back, empty
            time.sleep(0.5)  # past the breaker's interval: the next call tries Redis

    return serve_in_phases(
        db_name=connection.settings_dict["NAME"],
        env=env,
        plaintext=plaintext,
        path=MISSING_JOB,
        per_phase=per_phase,
        processes=2,
        moment=MOMENT,
        between=between,
    )


def _minute_count(redis_server) -> int:
    import redis

    client = redis.Redis(port=redis_server.port)
    names = list(client.scan_iter("*rl:m:*"))
    assert len(names) == 1, names
    return int(client.get(names[0]))


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_counts_taken_while_redis_was_down_are_added_when_it_returns(
    redis_server, make_org, make_key
):
    key, plaintext = make_key(make_org(), rate_limit_per_minute=10)
    assert key.effective_rate_limit() == 10

    per_process = _down_then_up(redis_server, plaintext, [2, 5, 5])  # up, down, up again

    passed = [[codes.count(404) for codes in phases] for phases in per_process]
    refused = sum(codes.count(429) for phases in per_process for codes in phases)
    assert sum(map(sum, passed)) <= 10, passed
    assert [phases[0] for phases in passed] == [2, 2]  # Redis counted them
    assert all(phases[1] > 0 for phases in passed), passed  # each counted alone, at its share
    assert [phases[2] for phases in passed] == [0, 0], passed  # the minute's limit was used up
    assert refused == 24 - sum(map(sum, passed))


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_redis_back_empty_gets_every_count_back_and_each_process_keeps_to_its_share(
    redis_server, make_org, make_key
):
    # Each process takes 2 while Redis counts and 2 of its share of 3 alone; Redis then comes
    # back without the first 4. Whichever process comes back first, it may pass 1 more, not
    # the 6 an empty counter would allow it before the other gives its counts back.
    key, plaintext = make_key(make_org(), rate_limit_per_minute=10)

    per_process = _down_then_up(redis_server, plaintext, [2, 2, 5])

    passed = [[codes.count(404) for codes in phases] for phases in per_process]
    assert passed == [[2, 2, 1], [2, 2, 1]]
    refusals = [codes for phases in per_process for codes in phases[2][1:]]
    assert set(refusals) == {429}
    # Redis holds every request of the minute again: the 4 it lost, the 4 counted alone, and
    # the 10 sent after it came back.
    assert _minute_count(redis_server) == 18


@pytest.fixture
def cache_on(settings, one_minute):
    """Return ``point(server)``: this process's cache (the shipped page cache) on ``server``,
    two web processes sharing each limit."""

    def point(server):
        cache_on_redis(settings, server.port, backend="perceptis.pagecache.PageCache")
        settings.APIKEYS_WEB_PROCESSES = 2

    return point


def _page_cache_read():
    """What a sign-in page does first: read one of allauth's rate-limit keys."""
    return cache.get("allauth:rl:login:login_failed:5/300/ip:127.0.0.1")


def test_a_page_that_reaches_redis_first_after_it_restarted_gives_back_the_apis_counts(
    redis_server, cache_on, settings, org, make_key, client_for
):
    cache_on(redis_server)
    settings.APIKEYS_REDIS_BREAKER_SECONDS = 0  # every call after a failure tries Redis again
    _, plaintext = make_key(org, rate_limit_per_minute=10)
    client = client_for(plaintext)
    assert client.get(MISSING_JOB).status_code == 404  # counted in Redis
    redis_server.stop()
    assert [client.get(MISSING_JOB).status_code for _ in range(2)] == [404, 404]  # alone
    _page_cache_read()  # still away: the counts stay with this process
    assert sum(local_counters.counts.values()) == 2

    redis_server.start()  # back, empty
    _page_cache_read()

    assert not redis_breaker.is_open
    assert local_counters.counts == {}
    # The 2 counted alone, and the 1 the restart lost.
    assert _minute_count(redis_server) == 3


@pytest.fixture
def partition(monkeypatch):
    """Redis out of this process's reach while it keeps running: ``begin()`` opens the breaker
    as a failed call would, ``end()`` lets its interval pass (the breaker's clock, not time)."""
    clock = [time.monotonic()]
    monkeypatch.setattr(breaker, "time", SimpleNamespace(monotonic=lambda: clock[0]))

    def end():
        clock[0] += django_settings.APIKEYS_REDIS_BREAKER_SECONDS + 1

    return SimpleNamespace(
        begin=lambda: redis_breaker.failed(ConnectionError("partition")), end=end
    )


def _statuses(client, n):
    return [client.get(MISSING_JOB).status_code for _ in range(n)]


def test_a_redis_that_was_only_out_of_reach_gets_the_counts_taken_alone_and_no_more(
    redis_server, cache_on, partition, org, make_key, client_for
):
    # The server keeps running: what it counted before is still there.
    cache_on(redis_server)
    _, plaintext = make_key(org, rate_limit_per_minute=10)
    client = client_for(plaintext)
    assert _statuses(client, 2) == [404, 404]
    partition.begin()
    assert _statuses(client, 3) == [404, 404, 404]
    assert _minute_count(redis_server) == 2  # the breaker kept those 3 away from Redis

    partition.end()
    _page_cache_read()

    assert _minute_count(redis_server) == 5
    # The rest of the minute still at this process's share: 5 of 10, and it took 5.
    assert client.get(MISSING_JOB).status_code == 429


def test_a_second_outage_in_the_minute_does_not_hand_the_process_a_fresh_share(
    redis_server, cache_on, partition, org, make_key, client_for
):
    cache_on(redis_server)
    _, plaintext = make_key(org, rate_limit_per_minute=10)
    client = client_for(plaintext)
    assert _statuses(client, 2) == [404, 404]  # in Redis: this process's share left is 3
    partition.begin()
    assert _statuses(client, 2) == [404, 404]  # alone
    partition.end()
    assert _statuses(client, 1) == [404]  # through Redis again: the third of its share

    partition.begin()

    # Alone again, the share is still the one it has used up, not 3 more.
    assert _statuses(client, 2) == [429, 429]
