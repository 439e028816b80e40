"""The request path on a real Redis Cluster (``REDIS_CLUSTER``): three masters started from
``redis-server`` processes on free ports (skipped, saying why, where none is installed; CI has
one). Real requests count and limit, a revocation is refused on the next request, polls are
answered from read models, a lookup racing a change stores nothing, no script call's keys span
two slots, and with one master stopped the keys on the other masters keep their shared counts
while those on the stopped one are counted per process, never open.
"""

import time

import pytest
from django.test import Client
from redis.cluster import key_slot

from accounts.models import Membership
from accounts.services import organization_set_plan
from apikeys.keys import counters, keycache, keyformat, lookup, ratelimit, readmodels, redis_client
from apikeys.keys import redis_contract as contract
from apikeys.keys.fallback import breaker_for
from apikeys.keys.redis_client import prefix, redis_or_none
from apikeys.keys.services import apikey_disable, apikey_revoke, apikey_rotate
from jobs.services import job_submit
from jobs.services.execution import job_claim, job_succeed
from perceptis.breaker import redis_breaker
from perceptis.pagecache import CLUSTER_CONNECTION_FACTORY
from tests.apikeys.keys import test_redis_contract as contract_cases
from tests.helpers import PASSWORD, SYSTEM
from tests.redis_cluster import RedisClusterProcesses, available, wait_until_failing

MISSING_JOB = "/api/v1/status/job_missing"  # 404 job_not_found once the key is accepted
STATUS = "/api/v1/status/{}"
MOMENT = 1_800_000_001.0  # one second into a minute
LOCKED = b"Too many failed login attempts"
WRONG = b"The email address and/or password you specified are not correct"

pytestmark = pytest.mark.skipif(available() is not None, reason=available() or "")


@pytest.fixture(scope="module")
def cluster():
    processes = RedisClusterProcesses()
    yield processes
    processes.close()


def _point_at(settings, processes: RedisClusterProcesses) -> None:
    settings.CACHES = {
        "default": {
            "BACKEND": "perceptis.pagecache.PageCache",
            "LOCATION": processes.url,
            "KEY_PREFIX": "perceptis",
            "OPTIONS": {
                "CONNECTION_FACTORY": CLUSTER_CONNECTION_FACTORY,
                "SOCKET_CONNECT_TIMEOUT": 0.5,
                "SOCKET_TIMEOUT": 0.5,
            },
        }
    }
    settings.REDIS_CLUSTER = True
    # The nodes run on this machine, on its one clock.
    settings.REDIS_CLUSTER_CLOCK_SKEW_MS = 0
    settings.APIKEYS_KEY_CACHE = True
    settings.JOBS_READ_MODEL_SECONDS = 3600


@pytest.fixture
def script_calls(monkeypatch):
    """Every script call's ``KEYS``, as sent."""
    calls = []
    original = redis_client.ClusterScript.__call__

    def recording(self, keys, args):
        calls.append(list(keys))
        return original(self, keys, args)

    monkeypatch.setattr(redis_client.ClusterScript, "__call__", recording)
    return calls


@pytest.fixture
def one_minute(monkeypatch):
    """Every request of the test in one minute (no window ends mid-test)."""
    monkeypatch.setattr(ratelimit, "now", lambda: MOMENT)


@pytest.fixture
def on_cluster(cluster, settings, script_calls, one_minute):
    """The cache and the request path on the module's cluster, emptied; every script call's
    keys are checked to share one slot when the test ends."""
    cluster.flush()
    _point_at(settings, cluster)
    assert redis_client.is_cluster()
    yield cluster
    assert _spanning(script_calls) == []


def _spanning(calls) -> list:
    return [keys for keys in calls if len({key_slot(k.encode()) for k in keys}) != 1]


def _cached(plaintext: str) -> bool:
    name = contract.RECORD.format(
        format=lookup.RECORD_FORMAT, secret_hash=keyformat.hash_key(plaintext)
    )
    return bool(redis_or_none().exists(prefix() + name))


def _minute_count(key) -> int:
    return counters.get(ratelimit._minute_key(key, int(ratelimit.now() // 60)))


def test_requests_are_counted_and_limited_on_the_cluster(on_cluster, org, make_key, client_for):
    key, plaintext = make_key(org, rate_limit_per_minute=3)
    client = client_for(plaintext)
    responses = [client.get(MISSING_JOB) for _ in range(4)]
    assert [r.status_code for r in responses] == [404, 404, 404, 429]
    assert [r["RateLimit-Remaining"] for r in responses[:3]] == ["2", "1", "0"]
    assert "RateLimit-Policy" not in responses[0]  # shared counts, not per process
    assert responses[3].json()["error"]["code"] == "rate_limited"
    assert _cached(plaintext)
    assert _minute_count(key) == 4


def test_a_test_keys_daily_quota_holds_on_the_cluster(
    on_cluster, make_org, make_key, client_for, settings
):
    settings.APIKEYS_TEST_DAILY_QUOTA = 2
    _, plaintext = make_key(make_org(credits=0), type="test")
    client = client_for(plaintext)
    statuses = [client.get(MISSING_JOB).status_code for _ in range(3)]
    assert statuses == [404, 404, 429]
    assert client.get(MISSING_JOB).json()["error"]["code"] == "daily_quota_exceeded"


@pytest.mark.parametrize("test, limit, quota, minute, day, org_day", contract_cases.CASES)
def test_the_cluster_scripts_count_as_the_python_rule(
    on_cluster, test, limit, quota, minute, day, org_day
):
    """The conformance table of ``test_redis_contract``, through the cluster's two calls:
    storing (``STORE_COUNT`` and ``RECORD_PUT``), then fetching (``RECORD_GET`` and ``CHECK``)."""
    redis = redis_or_none()
    record = contract_cases._record(test, limit, quota)
    keycache.store("hash-cluster", record, since=10**18, window=1, day=1, count=False)
    contract_cases._seed(redis, (minute, day, org_day))
    expected, counters = contract_cases._python(test, limit, quota, (minute, day, org_day))

    found = keycache.fetch(
        "hash-cluster",
        record_format=lookup.RECORD_FORMAT,
        window=contract_cases.WINDOW,
        day=contract_cases.DAY,
        count=True,
    )

    assert isinstance(found, keycache.Found)
    assert found.counts == expected
    assert contract_cases._redis_counters(redis) == counters
    contract_cases._seed(redis, (minute, day, org_day))
    counts = keycache.store(
        "hash-cluster",
        record,
        since=10**18,
        window=contract_cases.WINDOW,
        day=contract_cases.DAY,
        count=True,
    )
    assert counts == expected
    assert contract_cases._redis_counters(redis) == counters


@pytest.mark.parametrize(
    "change, code",
    [
        (lambda key: apikey_revoke(key=key, actor=SYSTEM), "api_key_revoked"),
        (lambda key: apikey_disable(key=key, actor=SYSTEM), "api_key_inactive"),
        (lambda key: apikey_rotate(key=key, actor=SYSTEM), "invalid_api_key"),
        (
            lambda key: organization_set_plan(
                organization=key.organization, plan_code="free", actor=SYSTEM
            ),
            "plan_not_eligible",
        ),
    ],
    ids=["revoke", "disable", "rotate", "plan downgrade"],
)
def test_a_change_is_refused_on_the_next_request(
    on_cluster, org, make_key, client_for, django_capture_on_commit_callbacks, change, code
):
    key, plaintext = make_key(org)
    client = client_for(plaintext)
    for _ in range(2):  # the first stores the record, the second is served from it
        assert client.get(MISSING_JOB).status_code == 404
    assert _cached(plaintext)
    with django_capture_on_commit_callbacks(execute=True):
        change(key)
    refused = client.get(MISSING_JOB)
    assert refused.json()["error"]["code"] == code


def test_a_plan_edit_makes_the_records_of_its_organizations_stale(
    on_cluster, make_org, make_key, client_for, django_capture_on_commit_callbacks
):
    clients = []
    for _ in range(3):  # organizations whose versions live in different slots
        _, plaintext = make_key(make_org())
        clients.append(client_for(plaintext))
        assert clients[-1].get(MISSING_JOB).status_code == 404
    plan = make_org().plan
    plan.api_access = False
    with django_capture_on_commit_callbacks(execute=True):
        plan.save()
    codes = {client.get(MISSING_JOB).json()["error"]["code"] for client in clients}
    assert codes == {"plan_not_eligible"}


def test_polls_are_answered_from_the_read_model_without_a_query(
    on_cluster,
    live_key,
    client_for,
    django_assert_num_queries,
    django_capture_on_commit_callbacks,
):
    key, plaintext = live_key
    client = client_for(plaintext)
    with django_capture_on_commit_callbacks(execute=True):
        job = job_submit(key=key, prompt="hi").job
    assert client.get(STATUS.format(job.job_id)).json()["status"] == "queued"  # warms the key
    with django_capture_on_commit_callbacks(execute=True):
        running = job_claim(job_id=job.job_id)
    with django_assert_num_queries(0):
        assert client.get(STATUS.format(job.job_id)).json()["status"] == "running"
    with django_capture_on_commit_callbacks(execute=True):
        job_succeed(job=running, result={"text": "ok", "usage": {}})
    with django_assert_num_queries(0):
        body = client.get(STATUS.format(job.job_id)).json()
    assert body["status"] == "succeeded"
    name = readmodels.stored_name(key.organization_id, key.pk, f"job:{job.job_id}")
    assert key_slot((prefix() + name).encode()) == key_slot(
        (
            prefix() + contract.MINUTE.format(organization=key.organization_id, key=1, window=1)
        ).encode()
    )


def test_another_key_never_reads_a_jobs_read_model(
    on_cluster, live_key, make_key, client_for, django_capture_on_commit_callbacks
):
    key, plaintext = live_key
    with django_capture_on_commit_callbacks(execute=True):
        job = job_submit(key=key, prompt="hi").job
    _, other = make_key(key.organization)
    response = client_for(other).get(STATUS.format(job.job_id))
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "job_not_found"


def test_a_lookup_that_raced_a_change_does_not_store_what_it_read(
    on_cluster, org, make_key, client_for
):
    key, plaintext = make_key(org)
    secret_hash = keyformat.hash_key(plaintext)
    missed = keycache.fetch(
        secret_hash, record_format=lookup.RECORD_FORMAT, window=1, day=1, count=False
    )
    assert isinstance(missed, keycache.Missing)
    for names in keycache.version_groups(keys=[(key.organization_id, key.pk)]):
        keycache.invalidate(names)  # the key changes after the lookup began
    _, secret = lookup.lookup(plaintext, secret_hash)
    keycache.store(
        secret_hash, lookup.record(secret), since=missed.since, window=1, day=1, count=False
    )
    assert not _cached(plaintext)


def test_a_record_whose_versions_moved_is_not_used(on_cluster, org, make_key, client_for):
    key, plaintext = make_key(org)
    client = client_for(plaintext)
    assert client.get(MISSING_JOB).status_code == 404
    found = keycache.fetch(
        keyformat.hash_key(plaintext),
        record_format=lookup.RECORD_FORMAT,
        window=1,
        day=1,
        count=False,
    )
    assert isinstance(found, keycache.Found)
    for names in keycache.version_groups(organizations=[key.organization_id]):
        keycache.invalidate(names)
    stale = keycache.fetch(
        keyformat.hash_key(plaintext),
        record_format=lookup.RECORD_FORMAT,
        window=1,
        day=1,
        count=False,
    )
    assert isinstance(stale, keycache.Missing)


def test_invalidating_many_organizations_makes_one_call_per_organization(on_cluster, script_calls):
    groups = keycache.version_groups(keys=[(1, 10), (2, 20), (1, 11)], organizations=[1, 2, 3])
    assert sorted(len(names) for names in groups) == [1, 2, 3]
    for names in groups:
        keycache.invalidate(names)
    assert _spanning(script_calls) == []


def test_a_script_call_across_slots_is_refused_by_the_client(on_cluster):
    """The check above is not vacuous: redis-py refuses a script whose keys span slots."""
    from redis.exceptions import RedisClusterException

    names = [prefix() + "a", prefix() + "b"]
    assert key_slot(names[0].encode()) != key_slot(names[1].encode())
    with pytest.raises(RedisClusterException, match="same key slot"):
        redis_or_none().eval("return 1", 2, *names)


# --- One master stopped --------------------------------------------------------------------


@pytest.fixture
def own_cluster(settings, script_calls, one_minute):
    """A cluster of this test's own (it stops one master)."""
    processes = RedisClusterProcesses()
    _point_at(settings, processes)
    settings.APIKEYS_WEB_PROCESSES = 2
    settings.APIKEYS_REDIS_BREAKER_SECONDS = 60
    yield processes
    processes.close()
    assert _spanning(script_calls) == []


def _node(name: str) -> str:
    """The node ("host:port") that serves a contract name."""
    redis = redis_or_none()
    slot = redis.keyslot(prefix() + name)
    return redis.nodes_manager.get_node_from_slot(slot).name


def _org_on(make_org, wanted, *, other_than=()):
    for _ in range(40):
        organization = make_org()
        node = _node(contract.ORGANIZATION_VERSION.format(organization=organization.pk))
        if (node == wanted) if wanted else node not in other_than:
            return organization
    raise AssertionError("no organization landed where wanted")


def _key_with_record(make_key, organization, *, on=None, not_on=None, **fields):
    for _ in range(40):
        key, plaintext = make_key(organization, **fields)
        name = contract.RECORD.format(
            format=lookup.RECORD_FORMAT, secret_hash=keyformat.hash_key(plaintext)
        )
        node = _node(name)
        if (on is None or node == on) and (not_on is None or node != not_on):
            return key, plaintext
    raise AssertionError("no key's record landed where wanted")


def test_with_one_master_stopped_the_other_slots_keep_their_shared_counts(
    own_cluster, make_org, make_key, client_for
):
    dead = f"127.0.0.1:{own_cluster.ports[1]}"
    # A key of an organization on a live master, whose record is on a live master too; one
    # whose record is on the stopped master; one of an organization on the stopped master.
    live_org = _org_on(make_org, None, other_than=(dead,))
    dead_org = _org_on(make_org, dead)
    _, shared = _key_with_record(make_key, live_org, not_on=dead, rate_limit_per_minute=4)
    _, record_lost = _key_with_record(make_key, live_org, on=dead, rate_limit_per_minute=4)
    _, alone = make_key(dead_org)
    for plaintext in (shared, record_lost, alone):
        assert client_for(plaintext).get(MISSING_JOB).status_code == 404  # counted: 1 of 4
    own_cluster.stop(own_cluster.ports[1])
    wait_until_failing(own_cluster, own_cluster.ports[1])

    # The organization on a live master: counted in Redis, its limit whole (3 more of 4), also
    # for the key whose record cannot be read (the database answers, Redis still counts).
    for plaintext in (shared, record_lost):
        client = client_for(plaintext)
        responses = [client.get(MISSING_JOB) for _ in range(4)]
        assert [r.status_code for r in responses] == [404, 404, 404, 429]
        assert all("RateLimit-Policy" not in r for r in responses)
    # The organization on the stopped master: this process counts alone, at its share of what
    # was left (60 a minute by default, one seen: 59 // 2), and says so; never open.
    client = client_for(alone)
    response = client.get(MISSING_JOB)
    assert response.status_code == 404
    assert response["RateLimit-Policy"].startswith('"per-process"')
    assert not breaker_for(contract.ORGANIZATION_VERSION.format(organization=live_org.pk)).is_open
    assert breaker_for(contract.ORGANIZATION_VERSION.format(organization=dead_org.pk)).is_open


def test_with_one_master_stopped_its_keys_get_their_share_and_no_more(
    own_cluster, make_org, make_key, client_for
):
    dead = f"127.0.0.1:{own_cluster.ports[1]}"
    organization = _org_on(make_org, dead)
    _, plaintext = make_key(organization, rate_limit_per_minute=4)
    client = client_for(plaintext)
    assert client.get(MISSING_JOB).status_code == 404  # one of four, counted in Redis
    own_cluster.stop(own_cluster.ports[1])
    responses = [client.get(MISSING_JOB) for _ in range(4)]
    # What was left (3) shared by two processes: one more from this one.
    assert [r.status_code for r in responses] == [404, 429, 429, 429]
    assert responses[1].json()["error"]["code"] == "rate_limited"
    assert responses[0]["RateLimit-Policy"] == '"per-process";q=1;w=60'


def test_with_one_master_stopped_a_revocation_is_still_refused(
    own_cluster, make_org, make_key, client_for, django_capture_on_commit_callbacks
):
    dead = f"127.0.0.1:{own_cluster.ports[1]}"
    organization = _org_on(make_org, dead)
    key, plaintext = _key_with_record(make_key, organization, not_on=dead)
    client = client_for(plaintext)
    for _ in range(2):
        assert client.get(MISSING_JOB).status_code == 404
    own_cluster.stop(own_cluster.ports[1])
    with django_capture_on_commit_callbacks(execute=True):
        apikey_revoke(key=key, actor=SYSTEM)  # its versions cannot be moved: the node is gone
    # The record is readable, its versions are not: the database answers.
    assert client.get(MISSING_JOB).json()["error"]["code"] == "api_key_revoked"


def test_a_hung_master_costs_one_timeout_per_breaker_interval_and_only_its_keys(
    own_cluster, make_org, make_key, client_for
):
    hung = f"127.0.0.1:{own_cluster.ports[1]}"
    hung_org = _org_on(make_org, hung)
    live_org = _org_on(make_org, None, other_than=(hung,))
    _, on_hung = _key_with_record(make_key, hung_org, not_on=hung, rate_limit_per_minute=4)
    _, on_live = _key_with_record(make_key, live_org, not_on=hung, rate_limit_per_minute=4)
    for plaintext in (on_hung, on_live):
        assert client_for(plaintext).get(MISSING_JOB).status_code == 404  # one of four
    own_cluster.hang(own_cluster.ports[1])

    client = client_for(on_hung)
    began = time.monotonic()
    responses = [client.get(MISSING_JOB) for _ in range(4)]
    took = time.monotonic() - began
    # What was left (3) shared by two processes: one more here; never open.
    assert [r.status_code for r in responses] == [404, 429, 429, 429]
    assert responses[0]["RateLimit-Policy"] == '"per-process";q=1;w=60'
    # One socket timeout (0.5 s here), then the node's breaker kept the others away from it.
    assert took < 1.5, took
    client = client_for(on_live)
    responses = [client.get(MISSING_JOB) for _ in range(4)]
    assert [r.status_code for r in responses] == [404, 404, 404, 429]
    assert all("RateLimit-Policy" not in r for r in responses)


def test_when_the_master_returns_the_counts_taken_alone_are_added_to_its_counters(
    own_cluster, make_org, make_key, client_for, settings
):
    settings.APIKEYS_REDIS_BREAKER_SECONDS = 0  # every request tries the node again
    port = own_cluster.ports[1]
    organization = _org_on(make_org, f"127.0.0.1:{port}")
    key, plaintext = make_key(organization, rate_limit_per_minute=10)
    client = client_for(plaintext)
    assert client.get(MISSING_JOB).status_code == 404  # one, in Redis
    own_cluster.stop(port)
    alone = [client.get(MISSING_JOB) for _ in range(3)]  # within the share, (10 - 1) // 2
    assert [r.status_code for r in alone] == [404, 404, 404]
    assert all(r["RateLimit-Policy"] for r in alone)
    own_cluster.restart(port)  # empty: what it counted before is gone

    response = client.get(MISSING_JOB)
    assert response.status_code == 404
    # The three counted alone, and the one the restart lost, were added before this request
    # counted: 5 of 10.
    assert _minute_count(key) == 5
    # For the rest of the minute the process keeps to its share (of the 9 it saw left, 4),
    # which the three alone and this one used up: the other process may not have given back
    # its counts yet.
    assert response["RateLimit-Policy"] == '"per-process";q=4;w=60'
    assert response["RateLimit-Remaining"] == "0"
    assert client.get(MISSING_JOB).status_code == 429


def test_with_every_master_stopped_requests_are_counted_alone(
    own_cluster, org, make_key, client_for
):
    _, plaintext = make_key(org, rate_limit_per_minute=4)
    client = client_for(plaintext)
    assert client.get(MISSING_JOB).status_code == 404
    for port in own_cluster.ports:
        own_cluster.stop(port)
    responses = [client.get(MISSING_JOB) for _ in range(3)]
    assert [r.status_code for r in responses] == [404, 429, 429]
    assert responses[0]["RateLimit-Policy"] == '"per-process";q=1;w=60'


# --- The pages' cache (sign-in's limits) on the cluster -----------------------------------


@pytest.fixture
def account(org, make_user, settings):
    settings.ACCOUNT_RATE_LIMITS = {
        **settings.ACCOUNT_RATE_LIMITS,
        "login_failed": "20/5m/ip,4/5m/key",
    }
    return make_user(org, role=Membership.Role.OWNER, email="owner@example.com")


def _sign_in(email, password):
    client = Client()
    return client, client.post("/accounts/login/", {"login": email, "password": password})


def test_sign_in_and_its_limits_are_shared_on_the_cluster(on_cluster, account):
    client, response = _sign_in(account.email, PASSWORD)
    assert response.status_code == 302
    assert client.get("/settings/developer/").status_code == 200
    for _ in range(4):
        _, response = _sign_in(account.email, "wrong-password")
        assert response.status_code == 200 and WRONG in response.content
    client, response = _sign_in(account.email, PASSWORD)
    assert LOCKED in response.content  # four failures counted on the cluster, not per process
    assert "_auth_user_id" not in client.session
    assert not redis_breaker.is_open


def test_with_every_master_stopped_sign_in_still_answers(own_cluster, account):
    for port in own_cluster.ports:
        own_cluster.stop(port)
    client, response = _sign_in(account.email, PASSWORD)
    assert response.status_code == 302
    assert client.get("/settings/developer/").status_code == 200
