"""Two-factor (TOTP + recovery codes): set up from the account page, required by an owner for
the organization, and required of staff for admin."""

import time

import pytest
from allauth.mfa.models import Authenticator
from django.core.management import call_command
from django.test import Client

from accounts.models import AuditEvent, Membership, User
from tests.helpers import PASSWORD, enable_totp, mark_recently_authenticated, totp_code

ACTIVATE = "/accounts/2fa/totp/activate/"


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    mark_recently_authenticated(client, user)
    return client


@pytest.fixture
def owner(org, make_user):
    return make_user(org, role=Membership.Role.OWNER)


def test_set_up_from_the_account_page_with_recovery_codes(owner):
    client = signed_in(owner)
    page = client.get("/accounts/")
    assert b"Set up two-factor" in page.content
    form = client.get(ACTIVATE)
    assert form.status_code == 200
    secret = form.context["form"].secret
    response = client.post(ACTIVATE, {"code": totp_code(secret)})
    assert response.status_code == 302
    types = set(Authenticator.objects.filter(user=owner).values_list("type", flat=True))
    assert types == {Authenticator.Type.TOTP, Authenticator.Type.RECOVERY_CODES}
    codes = client.get("/accounts/2fa/recovery-codes/")
    assert codes.status_code == 200
    assert len(codes.context["unused_codes"]) == 10
    # The secret is stored encrypted, not as the app's secret.
    stored = Authenticator.objects.get(user=owner, type=Authenticator.Type.TOTP).data["secret"]
    assert stored != secret


def test_a_recovery_code_signs_in_once(client, owner):
    enable_totp(owner)
    from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes

    code = RecoveryCodes(
        Authenticator.objects.get(user=owner, type=Authenticator.Type.RECOVERY_CODES)
    ).get_unused_codes()[0]
    client.post("/accounts/login/", {"login": owner.email, "password": PASSWORD})
    assert client.post("/accounts/2fa/authenticate/", {"code": code}).status_code == 302
    other = Client()
    other.post("/accounts/login/", {"login": owner.email, "password": PASSWORD})
    response = other.post("/accounts/2fa/authenticate/", {"code": code})
    assert response.status_code == 200
    assert "_auth_user_id" not in other.session


def test_owner_requires_two_factor_of_every_member(owner, org, make_user):
    member = make_user(org, role=Membership.Role.MEMBER)
    client = signed_in(owner)
    # Not before the owner has it: nobody locks themselves out.
    client.post("/accounts/two-factor/requirement/", {"require_two_factor": "on"})
    org.refresh_from_db()
    assert not org.require_two_factor
    enable_totp(owner)
    client.post("/accounts/two-factor/requirement/", {"require_two_factor": "on"})
    org.refresh_from_db()
    assert org.require_two_factor
    assert AuditEvent.objects.filter(action="organization.two_factor_required").exists()

    member_client = signed_in(member)
    response = member_client.get("/settings/developer/")
    assert response.status_code == 302
    assert response["Location"] == ACTIVATE
    assert member_client.get(ACTIVATE).status_code == 200  # the set-up page stays open
    enable_totp(member)
    assert member_client.get("/settings/developer/").status_code == 200
    assert client.get("/settings/developer/").status_code == 200


def test_only_owners_change_the_requirement(org, make_user):
    admin = make_user(org, role=Membership.Role.ADMIN)
    enable_totp(admin)
    response = signed_in(admin).post(
        "/accounts/two-factor/requirement/", {"require_two_factor": "on"}
    )
    assert response.status_code == 403
    org.refresh_from_db()
    assert not org.require_two_factor


def test_staff_without_two_factor_are_sent_to_set_it_up(make_user):
    staff = make_user(None, email="staff@example.com", is_staff=True, group_names=["Support"])
    client = signed_in(staff)
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response["Location"] == ACTIVATE
    assert client.get("/admin/accounts/organization/").status_code == 302
    enable_totp(staff)
    assert client.get("/admin/").status_code == 200


def test_createsuperuser_noinput_is_asked_to_set_it_up_on_first_sign_in(client, db, monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_EMAIL", "ops@example.com")
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", PASSWORD)
    call_command("createsuperuser", "--noinput", verbosity=0)
    assert User.objects.get(email="ops@example.com").is_superuser
    response = client.post(
        "/accounts/login/", {"login": "ops@example.com", "password": PASSWORD, "next": "/admin/"}
    )
    assert response.status_code == 302
    response = client.get(response["Location"])
    assert response.status_code == 302
    assert response["Location"] == ACTIVATE


def test_a_code_from_the_last_period_is_accepted_once_and_older_ones_never(client, owner):
    secret = enable_totp(owner)
    if time.time() % 30 > 25:  # "the last period" must not move while the test runs
        time.sleep(30 - time.time() % 30)
    client.post("/accounts/login/", {"login": owner.email, "password": PASSWORD})
    refused = client.post("/accounts/2fa/authenticate/", {"code": totp_code(secret, offset=-2)})
    assert refused.status_code == 200
    assert "_auth_user_id" not in client.session
    late = totp_code(secret, offset=-1)
    assert client.post("/accounts/2fa/authenticate/", {"code": late}).status_code == 302
    assert client.session["_auth_user_id"] == str(owner.pk)
    again = Client()
    again.post("/accounts/login/", {"login": owner.email, "password": PASSWORD})
    assert again.post("/accounts/2fa/authenticate/", {"code": late}).status_code == 200
    assert "_auth_user_id" not in again.session
