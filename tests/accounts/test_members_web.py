"""The Members page and the invitation pages, over HTTP: who sees and may do what."""

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from accounts.audit import Actor
from accounts.members import services
from accounts.models import AuditEvent, Invitation, Membership
from tests.helpers import PASSWORD, enable_totp

Role = Membership.Role
MEMBERS = "/settings/developer/members/"


ACCEPT = "/accounts/invitation/"  # where the link redirects: its token is in the session now


def link_path() -> str:
    return re.search(r"https?://[^/\s]+(/accounts/invitation/\S+/)", mail.outbox[-1].body).group(1)


def mship(user, org) -> Membership:
    return Membership.objects.get(user=user, organization=org)


def test_members_page_lists_people_and_pending_invitations(web, org, owner, member):
    enable_totp(owner)
    web.post(MEMBERS + "invite/", {"email": "new@example.com", "role": "admin"})
    page = web.get(MEMBERS).content.decode()
    assert owner.email in page and member.email in page
    assert "new@example.com" in page and "Send invitation" in page
    assert "Expires" in page and "Two-factor" in page and "Last signed in" in page


def test_a_member_sees_the_page_without_any_form(signed_in, org, member):
    page = signed_in(member).get(MEMBERS).content.decode()
    assert member.email in page
    assert "Send invitation" not in page and "Change role" not in page


def test_a_members_posts_are_refused(signed_in, org, owner, member):
    client = signed_in(member)
    target = mship(owner, org)
    for url, data in [
        (MEMBERS + "invite/", {"email": "x@example.com", "role": "member"}),
        (MEMBERS + f"{target.pk}/role/", {"role": "member"}),
        (MEMBERS + f"{target.pk}/remove/", {}),
        (MEMBERS + f"{target.pk}/transfer/", {}),
    ]:
        assert client.post(url, data).status_code == 403, url
    assert mship(owner, org).role == Role.OWNER
    assert not Invitation.objects.exists()


def test_inviting_asks_for_the_password_again(owner, org):
    client = Client()
    client.force_login(owner)  # signed in, but no recent password on record
    response = client.post(MEMBERS + "invite/", {"email": "x@example.com", "role": "member"})
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/reauthenticate/")
    assert not Invitation.objects.exists()


def test_an_existing_member_is_refused_with_a_message(web, member):
    response = web.post(MEMBERS + "invite/", {"email": member.email, "role": "member"})
    assert response.status_code == 400
    assert "already a member" in response.content.decode()


def test_admin_cannot_invite_an_owner_from_the_page(signed_in, org, make_user):
    admin = make_user(org, role=Role.ADMIN)
    response = signed_in(admin).post(
        MEMBERS + "invite/", {"email": "x@example.com", "role": "owner"}
    )
    assert response.status_code == 400
    assert "Only an owner" in response.content.decode()
    assert not Invitation.objects.exists()


def test_admin_promoting_to_owner_is_refused(signed_in, org, member, make_user):
    admin = make_user(org, role=Role.ADMIN)
    response = signed_in(admin).post(
        MEMBERS + f"{mship(member, org).pk}/role/", {"role": "owner"}, follow=True
    )
    assert "Only an owner can make someone an owner" in response.content.decode()
    assert mship(member, org).role == Role.MEMBER


def test_demoting_or_removing_the_last_owner_is_refused(web, org, owner):
    pk = mship(owner, org).pk
    response = web.post(MEMBERS + f"{pk}/role/", {"role": "member"}, follow=True)
    assert "last owner" in response.content.decode()
    response = web.post(MEMBERS + f"{pk}/remove/", follow=True)
    assert "last owner" in response.content.decode()
    assert mship(owner, org).role == Role.OWNER


def test_another_organizations_member_is_a_404(web, make_org, make_user):
    other = make_user(make_org(), role=Role.MEMBER)
    pk = Membership.objects.get(user=other).pk
    assert web.post(MEMBERS + f"{pk}/remove/").status_code == 404
    assert web.post(MEMBERS + f"{pk}/role/", {"role": "admin"}).status_code == 404
    assert Membership.objects.filter(user=other).exists()


def test_another_organizations_invitation_is_a_404(web, make_org, make_user):
    other_org = make_org()
    other_owner = make_user(other_org, role=Role.OWNER)
    invitation = services.invitation_create(
        organization=other_org,
        email="x@example.com",
        role="member",
        actor=Actor(user=other_owner),
        base_url="http://testserver/",
    )
    assert web.post(f"/settings/developer/invitations/{invitation.pk}/revoke/").status_code == 404
    assert Invitation.objects.get().revoked_at is None


def test_new_person_follows_the_link_sets_a_password_and_lands_in_the_organization(web, org):
    web.post(MEMBERS + "invite/", {"email": "ana@example.com", "role": "member"})
    path = link_path()
    visitor = Client()
    opened = visitor.get(path)
    assert opened.status_code == 302 and opened["Location"] == ACCEPT  # the token leaves the URL
    assert "Create account and join" in visitor.get(ACCEPT).content.decode()
    response = visitor.post(
        ACCEPT,
        {"full_name": "Ana", "password1": "a-long-new-pass-9", "password2": "a-long-new-pass-9"},
    )
    assert response.status_code == 302 and response["Location"] == "/settings/developer/"
    page = visitor.get("/settings/developer/").content.decode()
    assert "ana@example.com" in page and org.name in page
    assert visitor.get(path).status_code == 410  # single use
    assert "already been used" in visitor.get(path).content.decode()


def test_a_required_two_factor_is_set_up_next(web, org, owner):
    enable_totp(owner)
    org.require_two_factor = True
    org.save()
    web.post(MEMBERS + "invite/", {"email": "ana@example.com", "role": "member"})
    visitor = Client()
    data = {"password1": "a-long-new-pass-9", "password2": "a-long-new-pass-9"}
    visitor.get(link_path())
    visitor.post(ACCEPT, data)
    response = visitor.get("/settings/developer/")
    assert response.status_code == 302 and "/accounts/2fa/" in response["Location"]


def test_an_expired_link_shows_why(web, org, owner):
    services.invitation_create(
        organization=org,
        email="ana@example.com",
        role="member",
        actor=Actor(user=owner),
        base_url="http://testserver/",
        now=timezone.now() - timedelta(days=8),
    )
    response = Client().get(link_path())
    assert response.status_code == 410
    assert "expired" in response.content.decode()
    assert not Membership.objects.filter(user__email="ana@example.com").exists()


def test_a_person_with_an_account_signs_in_and_joins(web, org, make_org, make_user):
    ana = make_user(make_org(), role=Role.OWNER, email="ana@example.com")
    web.post(MEMBERS + "invite/", {"email": "ana@example.com", "role": "admin"})
    path = link_path()
    visitor = Client()
    page = visitor.get(path, follow=True).content.decode()
    assert "already has an account" in page
    assert f'?next={ACCEPT}"' in page  # signing in comes back without the token
    visitor.post("/accounts/login/", {"login": ana.email, "password": PASSWORD})
    assert "Join " in visitor.get(ACCEPT).content.decode()
    response = visitor.post(ACCEPT)
    assert response.status_code == 302
    assert mship(ana, org).role == Role.ADMIN
    page = visitor.get("/settings/developer/").content.decode()
    assert "Create key" in page  # the session moved to the organization just joined


def test_a_forwarded_link_signed_in_as_someone_else_does_not_join(web, org, make_org, make_user):
    mallory = make_user(make_org(), email="mallory@example.com")
    web.post(MEMBERS + "invite/", {"email": "ana@example.com", "role": "admin"})
    path = link_path()
    visitor = Client()
    visitor.force_login(mallory)
    assert "is for ana@example.com" in visitor.get(path, follow=True).content.decode()
    visitor.post(ACCEPT)
    assert not Membership.objects.filter(user=mallory, organization=org).exists()


def test_a_removed_member_is_refused_on_their_next_request(web, signed_in, org, member):
    theirs = signed_in(member)
    other_browser = signed_in(member)
    assert theirs.get("/settings/developer/").status_code == 200
    assert other_browser.get("/settings/developer/").status_code == 200
    web.post(MEMBERS + f"{mship(member, org).pk}/remove/")
    for client in (theirs, other_browser):
        response = client.get("/settings/developer/")
        assert response.status_code == 403
        assert "no longer a member" in response.content.decode()


def test_a_removed_member_with_another_organization_is_refused_once_then_moves(
    web, signed_in, org, member, make_org
):
    from accounts.members.services import membership_create
    from tests.helpers import SYSTEM

    other = make_org(name="Zed Other")
    membership_create(user=member, organization=other, role=Role.MEMBER, actor=SYSTEM)
    theirs = signed_in(member)
    assert org.name in theirs.get("/settings/developer/").content.decode()
    web.post(MEMBERS + f"{mship(member, org).pk}/remove/")
    assert theirs.get("/settings/developer/").status_code == 403
    page = theirs.get("/settings/developer/").content.decode()
    assert "Zed Other" in page


def test_every_change_shows_in_activity(web, org, member):
    web.post(MEMBERS + "invite/", {"email": "ana@example.com", "role": "member"})
    web.post(MEMBERS + f"{mship(member, org).pk}/role/", {"role": "admin"})
    web.post(MEMBERS + f"{mship(member, org).pk}/remove/")
    page = web.get("/settings/developer/activity/").content.decode()
    for action in ("invitation.created", "membership.role_changed", "membership.removed"):
        assert action in page
    assert f"{member.email}: member → admin" in page
    changes = AuditEvent.objects.filter(
        organization=org, action__in=["membership.role_changed", "membership.removed"]
    )
    assert changes.count() == 2


def test_revoke_and_resend_from_the_page(web, org):
    web.post(MEMBERS + "invite/", {"email": "ana@example.com", "role": "member"})
    invitation = Invitation.objects.get()
    first = link_path()
    web.post(f"/settings/developer/invitations/{invitation.pk}/resend/")
    assert link_path() != first
    web.post(f"/settings/developer/invitations/{invitation.pk}/revoke/")
    assert Client().get(link_path()).status_code == 410


def test_transfer_ownership_from_the_page(web, org, owner, member):
    web.post(MEMBERS + f"{mship(member, org).pk}/transfer/")
    assert mship(member, org).role == Role.OWNER
    assert mship(owner, org).role == Role.ADMIN


@pytest.mark.parametrize("token", ["short", "x" * 43])
def test_odd_tokens_are_410_not_500(db, token):
    assert Client().get(f"/accounts/invitation/{token}/").status_code == 410


def test_the_page_without_a_followed_link_shows_none(db):
    assert Client().get(ACCEPT).status_code == 410
    assert Client().post(ACCEPT, {"password1": "x", "password2": "x"}).status_code == 410


def test_posting_to_the_link_itself_is_refused(web, org):
    web.post(MEMBERS + "invite/", {"email": "ana@example.com", "role": "member"})
    data = {"password1": "a-long-new-pass-9", "password2": "a-long-new-pass-9"}
    assert Client().post(link_path(), data).status_code == 405
    assert not Membership.objects.filter(user__email="ana@example.com").exists()


def test_control_characters_in_a_token_are_refused_before_the_view(db):
    # The request guard answers any path with control characters 404, before any lookup.
    assert Client().get("/accounts/invitation/" + "%00" * 30 + "/").status_code == 404


def test_a_removed_members_keys_keep_working_with_the_creator_shown(
    web, org, make_user, make_key, client_for
):
    admin = make_user(org, role=Role.ADMIN, email="leaver@example.com")
    _, plaintext = make_key(org, name="Leaver's key", actor=Actor(user=admin))
    web.post(MEMBERS + f"{mship(admin, org).pk}/remove/")
    assert client_for(plaintext).get("/api/v1/models").status_code == 200
    page = web.get("/settings/developer/").content.decode()
    assert "Leaver&#x27;s key" in page and "leaver@example.com" in page


@pytest.mark.parametrize("action", ["role", "remove", "transfer"])
def test_changing_members_asks_for_the_password_again(owner, member, org, action):
    client = Client()
    client.force_login(owner)  # signed in, but no recent password on record
    response = client.post(MEMBERS + f"{mship(member, org).pk}/{action}/", {"role": "admin"})
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/reauthenticate/")
    assert mship(member, org).role == Role.MEMBER
