"""The life of a key through its services: create, limits, refusals, rotation, use, audit."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.audit import Actor
from accounts.models import AuditEvent
from apikeys.keys import keyformat
from apikeys.keys.errors import (
    ExceedsOwnPrivileges,
    KeyLimitReached,
    KeyNotRevoked,
    KeyRevoked,
    PlanNotEligible,
)
from apikeys.keys.models import ApiKey, KeySecret
from apikeys.keys.services import (
    apikey_create,
    apikey_delete,
    apikey_disable,
    apikey_enable,
    apikey_revoke,
    apikey_rotate,
    apikey_update,
)
from jobs.models import Job
from jobs.services import job_submit
from perceptis.errors import InvalidRequest
from tests.helpers import SYSTEM


def status_of(client, job_id):
    return client.get(f"/api/v1/status/{job_id}")


@pytest.fixture
def clock(monkeypatch):
    """A settable ``timezone.now``: ``clock.now`` is what every caller sees."""

    class Clock:
        now = timezone.now()

        def advance(self, **delta):
            self.now += timedelta(**delta)

    c = Clock()
    monkeypatch.setattr(timezone, "now", lambda: c.now)
    return c


def test_new_key_defaults_to_live_production_jobs_permissions_and_active(org):
    key, plaintext = apikey_create(organization=org, name="  Deploy bot ", actor=SYSTEM)
    key.refresh_from_db()
    assert key.name == "Deploy bot"
    assert key.type == ApiKey.Type.LIVE
    assert key.environment == ApiKey.Environment.PRODUCTION
    assert key.permissions == ["jobs:write", "jobs:read"]
    assert key.status == ApiKey.Status.ACTIVE
    assert key.is_usable()
    assert key.expires_at is None and key.ip_allowlist == []
    assert key.hint == keyformat.hint(plaintext)
    assert key.key_id.startswith("key_")
    assert list(key.secrets.values_list("secret_hash", flat=True)) == [
        keyformat.hash_key(plaintext)
    ]


def _fill(org, make_key, *, count, key_type="live"):
    return [make_key(org, type=key_type)[0] for _ in range(count)]


def test_business_plan_allows_50_live_keys_counting_inactive(org, make_key):
    made = _fill(org, make_key, count=50)
    apikey_disable(key=made[0], actor=SYSTEM)  # inactive keys still count
    with pytest.raises(KeyLimitReached) as refused:
        make_key(org)
    assert refused.value.code == "key_limit_reached"
    assert refused.value.status_code == 403
    # Another type has its own limit.
    make_key(org, type="test")


def test_revoked_keys_do_not_count_toward_the_limit(org, make_key):
    made = _fill(org, make_key, count=50)
    apikey_revoke(key=made[0], actor=SYSTEM)
    key, _ = make_key(org)
    assert key.status == ApiKey.Status.ACTIVE
    assert ApiKey.objects.filter(organization=org, type="live").count() == 51


@pytest.mark.parametrize("plan", ["free", "starter", "trial"])
def test_plans_without_api_access_get_no_keys(make_org, plan):
    org = make_org(plan=plan)
    with pytest.raises(PlanNotEligible) as refused:
        apikey_create(organization=org, name="k", actor=SYSTEM)
    assert refused.value.code == "plan_not_eligible"
    assert not ApiKey.objects.filter(organization=org).exists()


def test_acting_key_cannot_grant_permissions_it_lacks(org, make_key):
    manager, _ = make_key(org, permissions=["keys:manage", "jobs:read"])
    as_key = Actor(key=manager)
    with pytest.raises(ExceedsOwnPrivileges) as refused:
        apikey_create(organization=org, name="k", actor=as_key, permissions=["jobs:write"])
    assert refused.value.code == "exceeds_own_privileges"
    assert refused.value.status_code == 403
    assert "jobs:write" in refused.value.fields["permissions"][0]
    # Within its own permissions it may create, and the new key records who made it.
    child, _ = apikey_create(organization=org, name="k", actor=as_key, permissions=["jobs:read"])
    assert child.created_by_key == manager
    with pytest.raises(ExceedsOwnPrivileges):
        apikey_update(key=child, actor=as_key, permissions=["jobs:read", "usage:read"])


def test_deleting_a_key_that_is_not_revoked_is_refused(live_key):
    key, _ = live_key
    with pytest.raises(KeyNotRevoked) as refused:
        apikey_delete(key=key, actor=SYSTEM)
    assert refused.value.code == "key_not_revoked"
    assert refused.value.status_code == 409
    key.refresh_from_db()
    assert key.deleted_at is None


def test_deleting_a_revoked_key_hides_it_but_keeps_its_jobs(live_key):
    key, _ = live_key
    job = job_submit(key=key, prompt="hi").job
    apikey_revoke(key=key, actor=SYSTEM)
    apikey_delete(key=key, actor=SYSTEM)
    key.refresh_from_db()
    assert key.deleted_at is not None
    assert Job.objects.get(pk=job.pk).api_key_id == key.pk


def test_enabling_a_revoked_key_is_refused(live_key):
    key, _ = live_key
    apikey_revoke(key=key, actor=SYSTEM)
    with pytest.raises(KeyRevoked) as refused:
        apikey_enable(key=key, actor=SYSTEM)
    assert refused.value.code == "key_revoked"
    assert refused.value.status_code == 409
    key.refresh_from_db()
    assert key.status == ApiKey.Status.REVOKED


def test_disabled_key_can_be_enabled_again(live_key, client_for):
    key, plaintext = live_key
    apikey_disable(key=key, actor=SYSTEM)
    assert status_of(client_for(plaintext), "job_x").status_code == 401
    apikey_enable(key=key, actor=SYSTEM)
    assert status_of(client_for(plaintext), "job_x").status_code == 404


def test_rotation_keeps_key_id_and_jobs_and_stops_old_secret_at_once(live_key, client_for):
    key, old = live_key
    job = job_submit(key=key, prompt="hi").job
    rotated, new = apikey_rotate(key=key, actor=SYSTEM)
    assert rotated.pk == key.pk and rotated.key_id == key.key_id
    assert new != old
    assert rotated.hint == keyformat.hint(new)
    refused = status_of(client_for(old), job.job_id)
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "invalid_api_key"
    ok = status_of(client_for(new), job.job_id)
    assert ok.status_code == 200
    assert ok.json()["job_id"] == job.job_id


def test_rotation_with_grace_keeps_old_secret_until_the_grace_ends(live_key, client_for, clock):
    key, old = live_key
    job = job_submit(key=key, prompt="hi").job
    _, new = apikey_rotate(key=key, actor=SYSTEM, grace_period_seconds=3600)
    assert status_of(client_for(old), job.job_id).status_code == 200
    assert status_of(client_for(new), job.job_id).status_code == 200
    clock.advance(minutes=59)
    assert status_of(client_for(old), job.job_id).status_code == 200
    clock.advance(minutes=2)
    refused = status_of(client_for(old), job.job_id)
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "invalid_api_key"
    assert status_of(client_for(new), job.job_id).status_code == 200


def test_second_rotation_does_not_extend_the_first_secrets_grace(live_key, client_for, clock):
    key, first = live_key
    apikey_rotate(key=key, actor=SYSTEM, grace_period_seconds=3600)
    apikey_rotate(key=key, actor=SYSTEM, grace_period_seconds=0)
    assert status_of(client_for(first), "job_x").status_code == 401


@pytest.mark.parametrize("grace", [7 * 24 * 3600 + 1, -1, 1.5, "60", True])
def test_rotation_grace_beyond_seven_days_or_not_whole_seconds_is_refused(live_key, grace):
    key, plaintext = live_key
    with pytest.raises(InvalidRequest) as refused:
        apikey_rotate(key=key, actor=SYSTEM, grace_period_seconds=grace)
    assert "grace_period_seconds" in refused.value.fields
    assert list(KeySecret.objects.filter(key=key).values_list("secret_hash", "expires_at")) == [
        (keyformat.hash_key(plaintext), None)
    ]


def test_rotation_grace_of_exactly_seven_days_is_allowed(live_key):
    key, _ = live_key
    apikey_rotate(key=key, actor=SYSTEM, grace_period_seconds=7 * 24 * 3600)
    assert key.secrets.count() == 2


def test_revoked_key_cannot_be_rotated(live_key):
    key, _ = live_key
    apikey_revoke(key=key, actor=SYSTEM)
    with pytest.raises(KeyRevoked):
        apikey_rotate(key=key, actor=SYSTEM)


def test_last_use_is_written_at_most_once_a_minute(live_key, client_for, clock):
    key, plaintext = live_key
    client = client_for(plaintext)
    first_at = clock.now
    status_of(client, "job_x")  # REMOTE_ADDR is 127.0.0.1 in the test client
    key.refresh_from_db()
    assert key.last_used_at == first_at
    assert key.last_used_ip == "127.0.0.1"

    clock.advance(seconds=30)
    status_of(client, "job_x")
    client.get("/api/v1/status/job_x", REMOTE_ADDR="10.0.0.9", HTTP_USER_AGENT="second/1.0")
    key.refresh_from_db()
    assert key.last_used_at == first_at
    assert key.last_used_ip == "127.0.0.1"

    clock.advance(seconds=31)
    client.get("/api/v1/status/job_x", REMOTE_ADDR="10.0.0.9", HTTP_USER_AGENT="third/1.0")
    key.refresh_from_db()
    assert key.last_used_at == clock.now
    assert key.last_used_ip == "10.0.0.9"
    assert key.last_used_user_agent == "third/1.0"


def test_refused_requests_do_not_record_use(live_key, client_for):
    key, plaintext = live_key
    apikey_disable(key=key, actor=SYSTEM)
    status_of(client_for(plaintext), "job_x")
    key.refresh_from_db()
    assert key.last_used_at is None


def test_every_change_writes_an_audit_event_with_its_actor(org, make_user):
    admin = make_user(org)
    actor = Actor(user=admin, ip="203.0.113.7")
    key, _ = apikey_create(organization=org, name="Audited", actor=actor)
    apikey_update(key=key, actor=actor, name="Renamed")
    apikey_update(key=key, actor=actor, permissions=["jobs:read"])
    apikey_disable(key=key, actor=actor)
    apikey_enable(key=key, actor=actor)
    apikey_rotate(key=key, actor=actor, grace_period_seconds=60)
    apikey_revoke(key=key, actor=actor)
    apikey_delete(key=key, actor=actor)
    events = AuditEvent.objects.filter(target_id=key.key_id).order_by("id")
    assert [e.action for e in events] == [
        "api_key.created",
        "api_key.renamed",
        "api_key.updated",
        "api_key.disabled",
        "api_key.enabled",
        "api_key.rotated",
        "api_key.revoked",
        "api_key.deleted",
    ]
    for event in events:
        assert event.organization_id == org.pk
        assert event.actor_user_id == admin.pk
        assert event.actor_type == AuditEvent.ActorType.USER
        assert event.actor_label == admin.email
        assert event.ip_address == "203.0.113.7"


def test_no_op_changes_write_no_audit_event(live_key):
    key, _ = live_key
    before = AuditEvent.objects.count()
    apikey_update(key=key, actor=SYSTEM, name=key.name)
    apikey_enable(key=key, actor=SYSTEM)
    assert AuditEvent.objects.count() == before


def test_key_actor_is_recorded_on_the_audit_event(org, make_key):
    manager, _ = make_key(org, permissions=["keys:manage", "jobs:read"])
    key, _ = apikey_create(
        organization=org, name="by key", actor=Actor(key=manager), permissions=["jobs:read"]
    )
    event = AuditEvent.objects.get(action="api_key.created", target_id=key.key_id)
    assert event.actor_key_id == manager.pk
    assert event.actor_type == AuditEvent.ActorType.API_KEY
