"""Signing in and out, changing the password, and switching organizations."""

import pytest
from django.urls import reverse

from accounts.members.services import membership_create
from accounts.middleware import SESSION_KEY
from accounts.models import Membership
from perceptis import settings as project_settings
from tests.helpers import PASSWORD, SYSTEM

PAGES = [
    "/",
    "/settings/developer/",
    "/settings/developer/keys/new/",
    "/settings/developer/keys/key_whatever/",
    "/settings/developer/usage/",
    "/settings/developer/requests/",
    "/settings/developer/jobs/",
    "/settings/developer/jobs/job_whatever/",
    "/settings/developer/activity/",
    "/accounts/password/",
    "/accounts/password/change/",
    "/accounts/",
    "/accounts/2fa/totp/activate/",
]


@pytest.mark.parametrize("path", PAGES)
def test_signed_out_visit_redirects_to_login(client, db, path):
    response = client.get(path, follow=True)
    final, _ = response.redirect_chain[-1]
    assert final.startswith("/accounts/login/")
    assert response.status_code == 200
    assert b"Sign in" in response.content


def test_signed_out_post_to_an_action_changes_nothing(client, live_key):
    key, _ = live_key
    response = client.post(f"/settings/developer/keys/{key.key_id}/revoke/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    key.refresh_from_db()
    assert key.status == "active"


def test_person_signs_in_with_email_and_password(client, owner):
    response = client.post(
        "/accounts/login/",
        {"login": owner.email.upper(), "password": PASSWORD},
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("developer-settings")
    page = client.get("/settings/developer/")
    assert page.status_code == 200
    assert owner.email.encode() in page.content


def test_passwords_are_hashed_with_argon2(settings, make_user):
    # The suite hashes with MD5 for speed; this is the project's own setting.
    settings.PASSWORD_HASHERS = project_settings.PASSWORD_HASHERS
    user = make_user(None)
    assert user.password.startswith("argon2$")
    assert user.check_password(PASSWORD)


def test_wrong_password_is_refused_with_a_message(client, owner):
    response = client.post("/accounts/login/", {"login": owner.email, "password": "nope"})
    assert response.status_code == 200
    assert b"The email address and/or password you specified are not correct" in response.content
    assert "_auth_user_id" not in client.session


def test_sign_out_is_a_post_and_ends_the_session(web):
    response = web.post("/accounts/logout/")
    assert response.status_code == 302
    assert web.get("/settings/developer/").status_code == 302


def test_password_change_takes_the_new_password(client, owner):
    client.force_login(owner)
    response = client.post(
        "/accounts/password/change/",
        {
            "oldpassword": PASSWORD,
            "password1": "a-fresh-long-passphrase-42",
            "password2": "a-fresh-long-passphrase-42",
        },
    )
    assert response.status_code == 302
    owner.refresh_from_db()
    assert owner.check_password("a-fresh-long-passphrase-42")
    # Still signed in on this browser after the change.
    assert client.get("/settings/developer/").status_code == 200


@pytest.fixture
def two_orgs(make_org, owner, org, make_key):
    other = make_org(name="Zeta Labs")
    membership_create(user=owner, organization=other, role=Membership.Role.MEMBER, actor=SYSTEM)
    make_key(org, name="Key of the first org")
    make_key(other, name="Key of Zeta")
    return org, other


def test_switching_organization_changes_what_every_page_shows(web, two_orgs):
    first, other = two_orgs
    page = web.get("/settings/developer/")
    assert b"Key of the first org" in page.content
    assert b"Key of Zeta" not in page.content
    assert b'name="organization"' in page.content  # the switcher is there

    response = web.post("/accounts/organization/", {"organization": other.pk})
    assert response.status_code == 302
    assert web.session[SESSION_KEY] == other.pk
    page = web.get("/settings/developer/")
    assert b"Key of Zeta" in page.content
    assert b"Key of the first org" not in page.content
    # The role follows the organization: a member there, so no create button.
    assert b"Create key" not in page.content


def test_switching_to_an_organization_one_is_not_in_is_a_404(web, two_orgs, make_org):
    stranger = make_org(name="Not mine")
    response = web.post("/accounts/organization/", {"organization": stranger.pk})
    assert response.status_code == 404
    assert web.session.get(SESSION_KEY) != stranger.pk


def test_switching_needs_a_post(web, two_orgs):
    _, other = two_orgs
    assert web.get(f"/accounts/organization/?organization={other.pk}").status_code == 405


def test_single_organization_people_get_no_switcher(web):
    page = web.get("/settings/developer/")
    assert b'name="organization"' not in page.content


def test_person_without_organization_is_told_why(signed_in, make_user):
    loner = make_user(None)
    response = signed_in(loner).get("/settings/developer/")
    assert response.status_code == 403
    assert b"not in an organization" in response.content
