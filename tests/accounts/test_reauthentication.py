"""Creating or rotating a key asks for the password (or a two-factor code) again unless one
was given within the last 10 minutes."""

import time

import pytest
from django.core.cache import cache
from django.test import Client

from accounts.models import Membership
from apikeys.keys.models import ApiKey
from apikeys.keys.services import form_token_issue
from tests.helpers import PASSWORD, enable_totp, totp_code


@pytest.fixture
def owner(org, make_user):
    return make_user(org, role=Membership.Role.OWNER)


def sign_in(owner) -> Client:
    client = Client()
    client.post("/accounts/login/", {"login": owner.email, "password": PASSWORD})
    return client


def age_authentication(client, seconds: int) -> None:
    session = client.session
    for record in session["account_authentication_methods"]:
        record["at"] -= seconds
    session.save()


def test_just_after_signing_in_a_key_can_be_created(owner):
    client = sign_in(owner)
    assert client.get("/settings/developer/keys/new/").status_code == 200


def test_after_ten_minutes_the_password_is_asked_again_and_the_post_goes_through(owner, org):
    client = sign_in(owner)
    # The form was opened before the ten minutes were up.
    token = form_token_issue(user=owner, organization=org, purpose="key-create")
    age_authentication(client, 11 * 60)
    response = client.get("/settings/developer/keys/new/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/reauthenticate/")
    # A form sent after the ten minutes is kept and carried out after re-authenticating.
    response = client.post(
        "/settings/developer/keys/new/",
        {
            "nonce": token,
            "name": "After reauth",
            "type": "live",
            "environment": "production",
            "permissions": ["jobs:read"],
        },
    )
    assert response.status_code == 302
    assert not ApiKey.objects.filter(name="After reauth").exists()
    response = client.post(response["Location"], {"password": PASSWORD})
    assert response.status_code == 200
    assert b"It will not be shown again" in response.content
    assert response["Cache-Control"].count("no-store") == 1
    assert ApiKey.objects.filter(name="After reauth").exists()


def test_a_wrong_password_does_not_let_anyone_through(owner):
    client = sign_in(owner)
    age_authentication(client, 11 * 60)
    response = client.post(
        "/accounts/reauthenticate/?next=/settings/developer/keys/new/", {"password": "wrong"}
    )
    assert response.status_code == 200
    assert client.get("/settings/developer/keys/new/").status_code == 302


def test_rotating_asks_too_and_a_two_factor_code_is_enough(owner, make_key, org):
    secret = enable_totp(owner)
    key, _ = make_key(org)
    client = Client()
    client.post("/accounts/login/", {"login": owner.email, "password": PASSWORD})
    client.post("/accounts/2fa/authenticate/", {"code": totp_code(secret)})
    age_authentication(client, 11 * 60)
    url = f"/settings/developer/keys/{key.key_id}/rotate/"
    response = client.get(url)
    assert response.status_code == 302
    assert "reauthenticate" in response["Location"]
    # A code is good once: allauth remembers used codes for their 30 s in the cache, which
    # clearing stands in for waiting for the app's next code.
    cache.clear()
    response = client.post(f"/accounts/2fa/reauthenticate/?next={url}", {"code": totp_code(secret)})
    assert response.status_code == 302
    assert client.get(url).status_code == 200


def test_members_are_refused_before_being_asked(org, make_user):
    member = make_user(org, role=Membership.Role.MEMBER)
    client = sign_in(member)
    age_authentication(client, 11 * 60)
    assert client.get("/settings/developer/keys/new/").status_code == 403


def test_the_decorator_is_reusable(rf, owner):
    from accounts.decorators import recently_authenticated

    client = sign_in(owner)
    request = rf.get("/")
    request.user = owner
    request.session = client.session
    assert recently_authenticated(request)
    age_authentication(client, 11 * 60)
    request.session = client.session
    assert not recently_authenticated(request)
    assert time.time()


def test_changing_spend_limits_asks_for_the_password_again_after_ten_minutes(owner, org):
    from billing.models import CreditAccount

    client = sign_in(owner)
    age_authentication(client, 11 * 60)
    response = client.post("/settings/developer/spend/limit/", {"monthly_spend_limit": "5"})
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/reauthenticate/")
    assert CreditAccount.objects.get(organization=org).monthly_spend_limit is None

    response = client.post(response["Location"], {"password": PASSWORD}, follow=True)
    assert response.status_code == 200
    assert CreditAccount.objects.get(organization=org).monthly_spend_limit == 5


def test_two_factor_set_up_right_after_signing_in_asks_for_no_second_password(owner):
    client = sign_in(owner)

    response = client.get("/accounts/2fa/totp/activate/")

    assert response.status_code == 200
    assert b"Confirm access" not in response.content


def test_two_factor_set_up_asks_for_the_password_once_the_sign_in_is_old(owner):
    client = sign_in(owner)
    age_authentication(client, 11 * 60)

    response = client.get("/accounts/2fa/totp/activate/")

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/reauthenticate/")


def test_the_re_authentication_page_speaks_in_sentence_case(owner):
    client = sign_in(owner)

    page = client.get("/accounts/reauthenticate/").content.decode()

    assert "Confirm access" in page and "Confirm Access" not in page
