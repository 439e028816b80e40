"""Brute-force protection on the web sign-in and on /admin/login/, audited and logged."""

import logging

import pytest
from django.test import Client

from accounts.models import AuditEvent, Membership
from tests.helpers import PASSWORD, enable_totp, totp_code

LOCKED = b"Too many failed login attempts"
WRONG = b"The email address and/or password you specified are not correct"


def sign_in(client, email, password):
    return client.post("/accounts/login/", {"login": email, "password": password})


@pytest.fixture
def owner(org, make_user):
    return make_user(org, role=Membership.Role.OWNER, email="owner@example.com")


def test_five_failures_lock_the_account_even_for_the_right_password(client, owner):
    for _ in range(5):
        response = sign_in(client, owner.email, "wrong-password")
        assert response.status_code == 200
        assert WRONG in response.content
    response = sign_in(client, owner.email, PASSWORD)
    assert LOCKED in response.content
    assert "_auth_user_id" not in client.session
    # From another address too: the account is what is locked.
    other = Client(REMOTE_ADDR="198.51.100.9")
    assert LOCKED in sign_in(other, owner.email, PASSWORD).content


def test_the_lock_ends_with_the_window(client, owner, monkeypatch):
    import allauth.core.internal.ratelimit as rl

    now = [1_000_000.0]
    monkeypatch.setattr(rl.time, "time", lambda: now[0])
    for _ in range(5):
        sign_in(client, owner.email, "wrong-password")
    assert LOCKED in sign_in(client, owner.email, PASSWORD).content
    now[0] += 14 * 60
    assert LOCKED in sign_in(client, owner.email, PASSWORD).content
    now[0] += 2 * 60  # 16 minutes after the failures
    response = sign_in(client, owner.email, PASSWORD)
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(owner.pk)


def test_fewer_failures_then_the_right_password_signs_in(client, owner):
    for _ in range(4):
        sign_in(client, owner.email, "wrong-password")
    assert sign_in(client, owner.email, PASSWORD).status_code == 302


def test_an_unknown_address_gets_the_same_answers(client, db):
    answers = [sign_in(client, "nobody@example.com", "whatever").content for _ in range(6)]
    assert all(WRONG in a for a in answers[:5])
    assert LOCKED in answers[5]


def test_one_address_is_limited_across_accounts(client, org, make_user, settings):
    people = [make_user(org) for _ in range(8)]
    for person in people:  # 20 failures from one IP, spread so no account reaches 5
        for _ in range(3):
            sign_in(client, person.email, "wrong-password")
            if AuditEvent.objects.filter(action="user.signin_failed").count() == 20:
                break
    response = sign_in(client, people[-1].email, PASSWORD)
    assert LOCKED in response.content
    # Another client address is not affected.
    assert (
        sign_in(Client(REMOTE_ADDR="198.51.100.20"), people[-1].email, PASSWORD).status_code == 302
    )


def test_failed_and_refused_sign_ins_are_audited_and_logged_without_the_password(
    client, owner, caplog
):
    caplog.set_level(logging.WARNING, logger="accounts.signin")
    for _ in range(5):
        sign_in(client, owner.email, "wrong-password-x1")
    sign_in(client, owner.email, PASSWORD)
    failed = AuditEvent.objects.filter(action="user.signin_failed")
    refused = AuditEvent.objects.filter(action="user.signin_refused")
    assert failed.count() == 5 and refused.count() == 1
    event = refused.get()
    assert event.actor_user == owner and event.ip_address == "127.0.0.1"
    assert event.target_label == owner.email
    text = caplog.text + repr(list(AuditEvent.objects.values()))
    assert "wrong-password-x1" not in text and PASSWORD not in text
    assert "sign-in failed for owner@example.com" in caplog.text
    assert "sign-in refused" in caplog.text


def test_admin_login_is_the_same_sign_in(client, make_user):
    staff = make_user(None, email="staff@example.com", is_staff=True)
    response = client.get("/admin/login/?next=/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    for _ in range(5):
        sign_in(client, staff.email, "nope")
    assert LOCKED in sign_in(client, staff.email, PASSWORD).content


def test_staff_sign_in_to_admin_asks_for_the_second_factor(client, make_user):
    staff = make_user(None, email="staff@example.com", is_staff=True)
    staff.is_superuser = True
    staff.save()
    secret = enable_totp(staff)
    response = client.post(
        "/accounts/login/?next=/admin/",
        {"login": staff.email, "password": PASSWORD, "next": "/admin/"},
    )
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/2fa/authenticate/")
    assert "_auth_user_id" not in client.session  # not signed in before the code
    response = client.post("/accounts/2fa/authenticate/", {"code": totp_code(secret)})
    assert response.status_code == 302
    assert response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_wrong_second_factor_codes_lock_too(client, owner):
    secret = enable_totp(owner)
    sign_in(client, owner.email, PASSWORD)
    for _ in range(5):
        client.post("/accounts/2fa/authenticate/", {"code": "000000"})
    response = client.post("/accounts/2fa/authenticate/", {"code": totp_code(secret)})
    assert LOCKED in response.content
    assert "_auth_user_id" not in client.session
