"""Cached key records: a change applies to the next request in every process; a lost
invalidation is bounded; a lookup racing a change never stores the old state."""

import time
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.utils import timezone

from accounts.services import organization_set_plan
from apikeys.keys import keycache, keyformat, lookup, redis_contract
from apikeys.keys.models import ApiKey
from apikeys.keys.services import apikey_disable, apikey_revoke, apikey_rotate
from tests.helpers import SYSTEM
from tests.spawn_clients import ClientProcess

MISSING_JOB = "/api/v1/status/job_missing"  # 404 job_not_found once the key is accepted


@pytest.fixture
def other_process():
    process = ClientProcess(connection.settings_dict["NAME"])
    yield process
    process.stop()


def _cached(plaintext: str) -> bool:
    """Whether Redis holds a record for this key (always False without the key cache)."""
    if not keycache.enabled():
        return False
    redis = cache.client.get_client(write=True)
    name = redis_contract.RECORD.format(
        format=lookup.RECORD_FORMAT, secret_hash=keyformat.hash_key(plaintext)
    )
    return bool(redis.exists(cache.make_key(name)))


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_each_change_is_refused_on_the_next_request_of_a_process_that_cached_the_key(
    make_org, make_key, other_process
):
    org, downgraded = make_org(), make_org()
    changes = {
        "revoke": (lambda key: apikey_revoke(key=key, actor=SYSTEM), org, "api_key_revoked"),
        "disable": (lambda key: apikey_disable(key=key, actor=SYSTEM), org, "api_key_inactive"),
        "rotate": (lambda key: apikey_rotate(key=key, actor=SYSTEM), org, "invalid_api_key"),
        "plan downgrade": (
            lambda key: organization_set_plan(
                organization=key.organization, plan_code="free", actor=SYSTEM
            ),
            downgraded,
            "plan_not_eligible",
        ),
    }
    for name, (change, owner, code) in changes.items():
        key, plaintext = make_key(owner)
        for _ in range(2):  # the first stores the record, the second is served from it
            assert other_process.get(plaintext, MISSING_JOB) == (404, "job_not_found"), name
        assert _cached(plaintext) == keycache.enabled(), name
        change(key)
        assert other_process.get(plaintext, MISSING_JOB)[1] == code, name


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_expiry_and_the_end_of_a_rotation_grace_apply_to_cached_keys(
    make_org, make_key, other_process
):
    org = make_org()
    # Long enough for the six requests below to be served before either moment, on a busy
    # machine too.
    soon = timezone.now() + timedelta(seconds=8)
    expiring, expiring_plaintext = make_key(org, expires_at=soon)
    rotated, old_plaintext = make_key(org)
    _, new_plaintext = apikey_rotate(key=rotated, actor=SYSTEM, grace_period_seconds=8)
    for plaintext in (expiring_plaintext, old_plaintext, new_plaintext):
        for _ in range(2):
            assert other_process.get(plaintext, MISSING_JOB) == (404, "job_not_found")
    time.sleep(max(0.0, (soon - timezone.now()).total_seconds()) + 0.5)
    assert other_process.get(expiring_plaintext, MISSING_JOB) == (401, "api_key_expired")
    assert other_process.get(old_plaintext, MISSING_JOB) == (401, "invalid_api_key")
    assert other_process.get(new_plaintext, MISSING_JOB) == (404, "job_not_found")


def test_a_lost_invalidation_is_trusted_no_longer_than_the_record_lifetime(
    own_redis, settings, org, make_key, client_for
):
    settings.APIKEYS_KEY_CACHE_SECONDS = 1
    key, plaintext = make_key(org)
    client = client_for(plaintext)
    assert client.get(MISSING_JOB).status_code == 404
    assert _cached(plaintext)
    # An UPDATE sends no signal: as if the invalidation after a commit had been lost.
    ApiKey.objects.filter(pk=key.pk).update(status=ApiKey.Status.REVOKED)
    assert client.get(MISSING_JOB).status_code == 404  # the stale record, for now
    deadline = time.monotonic() + 10
    while _cached(plaintext) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert client.get(MISSING_JOB).json()["error"]["code"] == "api_key_revoked"


def test_a_lookup_that_raced_a_change_does_not_store_what_it_read(
    own_redis, org, make_key, client_for
):
    key, plaintext = make_key(org)
    secret_hash = keyformat.hash_key(plaintext)
    missed = keycache.fetch(
        secret_hash, record_format=lookup.RECORD_FORMAT, window=1, day=1, count=False
    )
    assert isinstance(missed, keycache.Missing)
    # The key changes after the lookup began and before its record is stored.
    for names in keycache.version_groups(keys=[(key.organization_id, key.pk)]):
        keycache.invalidate(names)
    _, secret = lookup.lookup(plaintext, secret_hash)
    keycache.store(
        secret_hash, lookup.record(secret), since=missed.since, window=1, day=1, count=False
    )
    assert not _cached(plaintext)
    # A lookup that began after the change stores its record.
    assert client_for(plaintext).get(MISSING_JOB).status_code == 404
    assert _cached(plaintext)


def test_a_plan_edit_makes_every_record_stale(own_redis, org, make_key, client_for):
    _, plaintext = make_key(org)
    client = client_for(plaintext)
    assert client.get(MISSING_JOB).status_code == 404
    plan = org.plan
    plan.api_access = False
    plan.save()
    assert client.get(MISSING_JOB).json()["error"]["code"] == "plan_not_eligible"
