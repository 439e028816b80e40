"""The one-time tokens of the show-once forms (create and rotate a key): signed, claimed once on
a database row, bound to the user, the organization and the key, and independent of the cache."""

import re
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from accounts.models import Membership
from apikeys.keys import keyformat
from apikeys.keys.models import ApiKey, FormToken, KeySecret
from apikeys.keys.services import form_token_issue, form_tokens_purge

KEY_RE = re.compile(rb"sk-(?:live|test)-per-[A-Za-z0-9_-]+")
CREATE = "/settings/developer/keys/new/"


def token_on(page) -> str:
    assert page.status_code == 200, page.status_code
    return re.search(rb'name="nonce" value="([^"]+)"', page.content).group(1).decode()


def create_data(token: str, name: str = "Billing service") -> dict:
    return {
        "nonce": token,
        "name": name,
        "type": "live",
        "environment": "production",
        "permissions": ["jobs:read"],
    }


def rotate_url(key) -> str:
    return f"/settings/developer/keys/{key.key_id}/rotate/"


@pytest.fixture
def redis_down(settings):
    """Point the cache at a closed port: every cache call fails within a fraction of a second."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {
                "CLIENT_CLASS": "django_redis.client.DefaultClient",
                "SOCKET_CONNECT_TIMEOUT": 0.1,
                "SOCKET_TIMEOUT": 0.1,
            },
        }
    }
    with pytest.raises(Exception):  # noqa: B017 (django-redis wraps the connection error)
        cache.get("anything")


def test_a_key_is_created_and_shown_once_while_the_cache_is_down(web, org, redis_down):
    token = token_on(web.get(CREATE))

    first = web.post(CREATE, create_data(token))
    again = web.post(CREATE, create_data(token))

    assert first.status_code == 200
    assert KEY_RE.search(first.content)
    assert again.status_code == 409
    assert b"not shown again" in again.content
    assert not KEY_RE.search(again.content)
    assert ApiKey.objects.filter(organization=org).count() == 1


def test_a_key_is_rotated_once_while_the_cache_is_down(web, org, make_key, redis_down):
    key, old = make_key(org)
    token = token_on(web.get(rotate_url(key)))
    data = {"nonce": token, "grace_period_seconds": "0"}

    first = web.post(rotate_url(key), data)
    again = web.post(rotate_url(key), data)

    assert first.status_code == 200
    assert KEY_RE.search(first.content)
    assert again.status_code == 409
    assert not KEY_RE.search(again.content)
    assert KeySecret.objects.filter(key=key).count() == 2  # the old one and one new one
    assert not KeySecret.objects.get(secret_hash=keyformat.hash_key(old)).is_current(timezone.now())


def test_a_replayed_token_is_refused_after_the_page_is_opened_again(web, org):
    token = token_on(web.get(CREATE))
    assert web.post(CREATE, create_data(token, "First")).status_code == 200
    token_on(web.get(CREATE))  # a new form has a new token; the old one stays used

    replay = web.post(CREATE, create_data(token, "Second"))

    assert replay.status_code == 409
    assert list(ApiKey.objects.filter(organization=org).values_list("name", flat=True)) == ["First"]


def test_another_members_token_is_refused(web, org, make_user, signed_in):
    token = token_on(web.get(CREATE))
    colleague = signed_in(make_user(org, role=Membership.Role.ADMIN))

    response = colleague.post(CREATE, create_data(token))

    assert response.status_code == 400
    assert b"This form has expired" in response.content
    assert not ApiKey.objects.filter(organization=org).exists()
    # The owner's form still works: the refusal did not use it up.
    assert web.post(CREATE, create_data(token)).status_code == 200


def test_another_organizations_token_is_refused(web, owner, org, make_org, make_user, signed_in):
    other = make_org()
    stranger = signed_in(make_user(other, role=Membership.Role.OWNER))
    theirs = token_on(stranger.get(CREATE))
    # Even a token made for this user, but in the other organization, is refused here.
    mine_elsewhere = form_token_issue(user=owner, organization=other, purpose="key-create")

    assert web.post(CREATE, create_data(theirs)).status_code == 400
    assert web.post(CREATE, create_data(mine_elsewhere)).status_code == 400
    assert not ApiKey.objects.filter(organization__in=[org, other]).exists()


def test_a_rotate_token_works_only_for_its_key(web, org, make_key):
    first, _ = make_key(org, name="First")
    second, _ = make_key(org, name="Second")
    token = token_on(web.get(rotate_url(first)))

    response = web.post(rotate_url(second), {"nonce": token, "grace_period_seconds": "0"})

    assert response.status_code == 400
    assert not KEY_RE.search(response.content)
    assert KeySecret.objects.filter(key=second).count() == 1
    # Nor is a rotate token a create token.
    assert web.post(CREATE, create_data(token)).status_code == 400
    assert not ApiKey.objects.filter(organization=org, name="Billing service").exists()


@pytest.mark.parametrize(
    "tamper",
    [
        lambda token: token[:-2] + ("AA" if token[-2:] != "AA" else "BB"),
        lambda token: "x" * 40,
        lambda token: token + ":extra",
    ],
    ids=["signature", "made-up", "appended"],
)
def test_a_forged_token_is_refused_and_a_fresh_form_is_offered(web, org, tamper):
    token = token_on(web.get(CREATE))

    response = web.post(CREATE, create_data(tamper(token)))

    assert response.status_code == 400
    assert b"This form has expired" in response.content
    assert not ApiKey.objects.filter(organization=org).exists()
    fresh = re.search(rb'name="nonce" value="([^"]+)"', response.content).group(1).decode()
    assert web.post(CREATE, create_data(fresh)).status_code == 200


@pytest.mark.parametrize(
    "token", ["A" * 100_000, "", "not a token\x00"], ids=["huge", "empty", "nul"]
)
def test_a_malformed_token_is_refused_and_a_fresh_form_is_offered(web, org, token):
    response = web.post(CREATE, create_data(token))

    assert response.status_code == 400
    assert b"This form has expired" in response.content
    assert not ApiKey.objects.filter(organization=org).exists()
    fresh = re.search(rb'name="nonce" value="([^"]+)"', response.content).group(1).decode()
    assert web.post(CREATE, create_data(fresh)).status_code == 200


def test_a_token_past_its_row_expiry_is_refused_and_purged(web, org):
    token = token_on(web.get(CREATE))
    now = timezone.now()
    FormToken.objects.filter(user__memberships__organization=org).update(
        expires_at=now - timedelta(seconds=1)
    )

    response = web.post(CREATE, create_data(token))

    assert response.status_code == 400
    assert b"This form has expired" in response.content
    assert not ApiKey.objects.filter(organization=org).exists()
    expired = FormToken.objects.filter(expires_at__lte=now).count()
    assert expired == 1  # the fresh form's token is not expired
    assert form_tokens_purge(now=now) == 1
    assert FormToken.objects.count() == 1


def test_a_token_signed_more_than_a_day_ago_is_refused(web, owner, org, monkeypatch):
    earlier = (timezone.now() - timedelta(hours=25)).timestamp()
    with monkeypatch.context() as past:
        past.setattr("django.core.signing.time.time", lambda: earlier)
        token = form_token_issue(user=owner, organization=org, purpose="key-create")

    response = web.post(CREATE, create_data(token))

    assert response.status_code == 400
    assert not ApiKey.objects.filter(organization=org).exists()


def test_a_refused_creation_gives_the_token_back(web, org, settings):
    org.plan.live_key_limit = 0
    org.plan.save()
    token = token_on(web.get(CREATE))
    assert web.post(CREATE, create_data(token)).status_code == 400
    org.plan.live_key_limit = 5
    org.plan.save()

    assert web.post(CREATE, create_data(token)).status_code == 200
    assert ApiKey.objects.filter(organization=org).count() == 1
