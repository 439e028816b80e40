"""The plan's cap on key creations per organization per UTC day, by any means."""

from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from accounts.audit import Actor
from accounts.models import Plan
from apikeys.keys.creation_limit import check_creations_today
from apikeys.keys.errors import KeyCreationLimitReached
from apikeys.keys.models import ApiKey, Permission
from apikeys.keys.services import apikey_create, apikey_delete, apikey_revoke
from tests.helpers import SYSTEM


@pytest.fixture
def capped(org):
    """Return ``capped(n)``: the organization's plan now allows ``n`` creations a day."""

    def cap(n):
        Plan.objects.filter(pk=org.plan_id).update(key_creations_per_day=n)
        org.plan.refresh_from_db()

    return cap


def _create(client, name="k"):
    return client.post("/api/v1/keys", {"name": name}, format="json")


def test_plans_cap_key_creations_per_day(db):
    caps = dict(Plan.objects.values_list("code", "key_creations_per_day"))
    assert caps == {"free": 0, "starter": 0, "trial": 0, "business": 100, "enterprise": 1000}


def test_past_the_cap_the_api_gets_429_with_retry_after(org, make_key, client_for, capped):
    _, plaintext = make_key(org, permissions=list(Permission.values))
    client = client_for(plaintext)
    capped(3)
    assert [_create(client).status_code for _ in range(2)] == [201, 201]
    before = ApiKey.objects.count()
    response = _create(client, "one too many")
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "key_creation_limit_reached"
    now = timezone.now()
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    assert abs(int(response["Retry-After"]) - (midnight - now).total_seconds()) < 5
    assert ApiKey.objects.count() == before


def test_revoked_and_deleted_keys_still_count(org, make_key, capped):
    capped(2)
    first, _ = make_key(org)
    apikey_revoke(key=first, actor=SYSTEM)
    apikey_delete(key=first, actor=SYSTEM)
    second, _ = make_key(org)
    apikey_revoke(key=second, actor=SYSTEM)
    with pytest.raises(KeyCreationLimitReached):
        make_key(org)


def test_every_means_of_creating_counts(org, make_key, make_user, client_for, capped):
    # The web (a person), an operator's command (system) and the API share one count.
    capped(3)
    apikey_create(organization=org, name="web", actor=Actor(user=make_user(org)))
    apikey_create(organization=org, name="cli", actor=Actor.system("operator (create_api_key)"))
    _, plaintext = make_key(org, permissions=list(Permission.values))
    response = _create(client_for(plaintext))
    assert response.status_code == 429
    with pytest.raises(KeyCreationLimitReached):
        apikey_create(organization=org, name="admin", actor=Actor(user=make_user(org)))


def test_the_count_starts_again_at_midnight_utc(org, make_key, capped):
    capped(1)
    key, _ = make_key(org)
    just_before = datetime(2026, 12, 1, 23, 59, 30, tzinfo=UTC)
    ApiKey.objects.filter(pk=key.pk).update(created_at=just_before)
    with pytest.raises(KeyCreationLimitReached) as refused:
        check_creations_today(org, now=just_before + timedelta(seconds=10))
    assert refused.value.retry_after == 20
    check_creations_today(org, now=just_before + timedelta(seconds=31))


def test_other_organizations_keys_do_not_count(org, make_org, make_key, capped):
    other = make_org()  # on the same plan, so the same cap
    capped(1)
    make_key(other)
    make_key(org)
    with pytest.raises(KeyCreationLimitReached):
        make_key(org)


def test_operator_command_is_refused_past_the_cap_with_the_reason(org, make_key, capped):
    capped(1)
    make_key(org)
    with pytest.raises(CommandError, match="key creations per organization per UTC day"):
        call_command("create_api_key", "--org", org.slug, "--name", "CI", stdout=StringIO())
    assert ApiKey.objects.filter(organization=org).count() == 1
