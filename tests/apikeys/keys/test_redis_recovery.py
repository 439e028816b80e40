"""When Redis comes back after an outage, what each process counted alone is added to Redis's
counters, so a key passes at most its limit in the minute an outage starts and ends in."""

import shutil
import subprocess
import time

import pytest
from django.db import connection

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


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_counts_taken_while_redis_was_down_are_added_when_it_returns(
    redis_server, make_org, make_key
):
    key, plaintext = make_key(make_org(), rate_limit_per_minute=10)
    assert key.effective_rate_limit() == 10
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

    per_process = serve_in_phases(
        db_name=connection.settings_dict["NAME"],
        env=env,
        plaintext=plaintext,
        path=MISSING_JOB,
        per_phase=[2, 5, 5],  # up, down, up again
        processes=2,
        moment=MOMENT,
        between=between,
    )

    passed = [[codes.count(404) for codes in phases] for phases in per_process]
    refused = sum(codes.count(429) for phases in per_process for codes in phases)
    assert sum(map(sum, passed)) <= 10, passed
    assert [phases[0] for phases in passed] == [2, 2]  # Redis counted them
    assert all(phases[1] > 0 for phases in passed), passed  # each counted alone, at its share
    assert [phases[2] for phases in passed] == [0, 0], passed  # the minute's limit was used up
    assert refused == 24 - sum(map(sum, passed))
