"""Memberships and invitations in admin: support sees them and revokes invitations."""

from accounts.audit import Actor
from accounts.members import services
from accounts.models import AuditEvent, Invitation, Membership


def _invite(org, owner, email="ana@example.com"):
    return services.invitation_create(
        organization=org,
        email=email,
        role="member",
        actor=Actor(user=owner),
        base_url="http://testserver/",
    )


def test_support_sees_memberships_and_invitations(support, org, owner):
    invitation = _invite(org, owner)
    page = support.get("/admin/accounts/membership/").content.decode()
    assert owner.email in page
    page = support.get("/admin/accounts/invitation/").content.decode()
    assert "ana@example.com" in page and "Pending" in page
    assert invitation.token_hash not in page
    detail = support.get(f"/admin/accounts/invitation/{invitation.pk}/change/").content.decode()
    assert invitation.token_hash not in detail
    assert support.get("/admin/accounts/invitation/?token_hash=x").status_code in (302, 400)


def test_support_revokes_an_invitation_and_it_is_audited(
    support, support_user, org, owner, run_action
):
    invitation = _invite(org, owner)
    run_action(support, "/admin/accounts/invitation/", "revoke_invitations", [invitation])
    assert Invitation.objects.get().revoked_at is not None
    event = AuditEvent.objects.get(action="invitation.revoked")
    assert event.actor_user == support_user and event.organization == org


def test_staff_without_the_permission_cannot_revoke(bare, org, owner, run_action):
    invitation = _invite(org, owner)
    run_action(bare, "/admin/accounts/invitation/", "revoke_invitations", [invitation])
    assert Invitation.objects.get().revoked_at is None


def test_nobody_adds_or_edits_memberships_in_admin(root, org, owner):
    membership = Membership.objects.get(user=owner)
    assert root.get("/admin/accounts/membership/add/").status_code == 403
    root.post(f"/admin/accounts/membership/{membership.pk}/change/", {"role": "member"})
    assert Membership.objects.get(pk=membership.pk).role == "owner"
