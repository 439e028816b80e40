"""Members services: inviting, accepting, revoking, resending, roles, removal, ownership;
every refusal with its stable code, and the audit row of every change."""

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from accounts.audit import Actor
from accounts.errors import (
    AccountExists,
    AlreadyMember,
    InvitationExpired,
    InvitationNotFound,
    InvitationPending,
    InvitationRevoked,
    InvitationUsed,
    InvitationWrongAccount,
    LastOwner,
    MemberNotFound,
    MembershipForbidden,
    OwnerRequired,
    UnknownRole,
)
from accounts.members import services
from accounts.members.tokens import token_hash
from accounts.models import AuditEvent, Invitation, Membership
from perceptis.errors import InvalidRequest

BASE = "http://testserver/"
Role = Membership.Role


def invite(org, user, email="new@example.com", role=Role.MEMBER, **kw):
    return services.invitation_create(
        organization=org, email=email, role=role, actor=Actor(user=user), base_url=BASE, **kw
    )


def last_token() -> str:
    return re.search(r"/accounts/invitation/([^/\s]+)/", mail.outbox[-1].body).group(1)


def membership(user, org) -> Membership:
    return Membership.objects.get(user=user, organization=org)


@pytest.fixture
def admin(org, make_user):
    return make_user(org, role=Role.ADMIN)


def test_invitation_is_emailed_and_only_its_hash_is_stored(org, owner):
    invitation = invite(org, owner, email="New@Example.com", role=Role.ADMIN)
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["new@example.com"]
    token = last_token()
    assert invitation.token_hash == token_hash(token) != token
    assert token not in str(Invitation.objects.values().get())
    assert invitation.expires_at - invitation.created_at == timedelta(days=7)
    event = AuditEvent.objects.get(action="invitation.created")
    assert event.organization == org and event.actor_user == owner
    assert event.metadata == {"inviter": owner.email, "invitee": "new@example.com", "role": "admin"}


def test_invitation_validity_follows_the_setting(org, owner, settings):
    settings.ACCOUNTS_INVITATION_DAYS = 2
    invitation = invite(org, owner)
    assert invitation.expires_at - invitation.created_at == timedelta(days=2)


def test_admin_invites_members_and_admins_but_not_owners(org, admin):
    invite(org, admin, email="a@example.com", role=Role.ADMIN)
    with pytest.raises(OwnerRequired) as exc:
        invite(org, admin, email="b@example.com", role=Role.OWNER)
    assert exc.value.code == "owner_required"
    assert not Invitation.objects.filter(email="b@example.com").exists()


def test_owner_invites_an_owner(org, owner):
    assert invite(org, owner, role=Role.OWNER).role == Role.OWNER


def test_a_member_cannot_invite(org, member):
    with pytest.raises(MembershipForbidden):
        invite(org, member)
    assert mail.outbox == []


def test_someone_of_another_organization_cannot_invite(org, make_org, make_user):
    stranger = make_user(make_org(), role=Role.OWNER)
    with pytest.raises(MembershipForbidden):
        invite(org, stranger)


def test_an_existing_member_is_refused_with_a_clear_message(org, owner, member):
    with pytest.raises(AlreadyMember) as exc:
        invite(org, owner, email=member.email.upper())
    assert member.email in exc.value.message


def test_a_second_pending_invitation_is_refused(org, owner):
    invite(org, owner)
    with pytest.raises(InvitationPending):
        invite(org, owner)


def test_bad_email_and_role_are_refused(org, owner):
    with pytest.raises(InvalidRequest):
        invite(org, owner, email="not-an-address")
    with pytest.raises(UnknownRole):
        invite(org, owner, role="superuser")


def test_new_person_accepts_and_becomes_a_member(org, owner):
    invite(org, owner, email="ana@example.com", role=Role.ADMIN)
    joined = services.invitation_accept_new_account(
        token=last_token(), password="a-long-new-passphrase-1", full_name="Ana"
    )
    assert joined.role == Role.ADMIN and joined.user.email == "ana@example.com"
    assert joined.user.check_password("a-long-new-passphrase-1")
    assert joined.user.full_name == "Ana"
    invitation = Invitation.objects.get()
    assert invitation.accepted_by == joined.user and invitation.accepted_at is not None
    event = AuditEvent.objects.get(action="invitation.accepted")
    assert event.organization == org and event.metadata["inviter"] == owner.email


def test_a_used_link_is_refused(org, owner):
    invite(org, owner, email="ana@example.com")
    token = last_token()
    services.invitation_accept_new_account(token=token, password="a-long-new-passphrase-1")
    with pytest.raises(InvitationUsed) as exc:
        services.invitation_accept_new_account(token=token, password="a-long-new-passphrase-1")
    assert exc.value.code == "invitation_used"


def test_an_expired_link_is_refused(org, owner):
    invite(org, owner, email="ana@example.com", now=timezone.now() - timedelta(days=8))
    with pytest.raises(InvitationExpired) as exc:
        services.invitation_accept_new_account(token=last_token(), password="a-long-passphrase-1")
    assert exc.value.code == "invitation_expired"
    assert not Membership.objects.filter(user__email="ana@example.com").exists()


def test_an_unknown_or_odd_token_is_refused(db):
    for token in ["x" * 43, "", "é" * 40, "x" * 5000]:
        with pytest.raises(InvitationNotFound):
            services.invitation_accept_new_account(token=token, password="a-long-passphrase-1")


def test_a_weak_password_is_refused_and_nothing_is_used_up(org, owner):
    invite(org, owner, email="ana@example.com")
    with pytest.raises(InvalidRequest):
        services.invitation_accept_new_account(token=last_token(), password="123")
    assert Invitation.objects.get().accepted_at is None


def test_an_address_with_an_account_must_sign_in(org, owner, make_user, make_org):
    existing = make_user(make_org(), email="ana@example.com")
    invite(org, owner, email="ana@example.com")
    token = last_token()
    with pytest.raises(AccountExists):
        services.invitation_accept_new_account(token=token, password="a-long-passphrase-1")
    joined = services.invitation_accept(token=token, user=existing, actor=Actor(user=existing))
    assert joined.organization == org and joined.role == Role.MEMBER


def test_a_forwarded_link_does_not_let_another_account_in(org, owner, make_user, make_org):
    other = make_user(make_org(), email="mallory@example.com")
    invite(org, owner, email="ana@example.com")
    with pytest.raises(InvitationWrongAccount):
        services.invitation_accept(token=last_token(), user=other, actor=Actor(user=other))
    assert not Membership.objects.filter(user=other, organization=org).exists()


def test_revoked_link_is_refused(org, owner):
    invitation = invite(org, owner)
    services.invitation_revoke(invitation=invitation, actor=Actor(user=owner))
    with pytest.raises(InvitationRevoked):
        services.invitation_accept_new_account(token=last_token(), password="a-long-passphrase-1")
    assert AuditEvent.objects.filter(action="invitation.revoked", organization=org).exists()
    with pytest.raises(InvalidRequest):
        services.invitation_revoke(invitation=invitation, actor=Actor(user=owner))


def test_admin_cannot_revoke_an_owner_invitation(org, owner, admin):
    invitation = invite(org, owner, role=Role.OWNER)
    with pytest.raises(OwnerRequired):
        services.invitation_revoke(invitation=invitation, actor=Actor(user=admin))


def test_resend_replaces_the_link(org, owner):
    invitation = invite(org, owner)
    old = last_token()
    services.invitation_resend(invitation=invitation, actor=Actor(user=owner), base_url=BASE)
    new = last_token()
    assert old != new and len(mail.outbox) == 2
    with pytest.raises(InvitationNotFound):
        services.invitation_accept_new_account(token=old, password="a-long-passphrase-1")
    services.invitation_accept_new_account(token=new, password="a-long-passphrase-1")
    assert AuditEvent.objects.filter(action="invitation.resent").count() == 1


def test_a_member_cannot_revoke_or_resend(org, owner, member):
    invitation = invite(org, owner)
    with pytest.raises(MembershipForbidden):
        services.invitation_revoke(invitation=invitation, actor=Actor(user=member))
    with pytest.raises(MembershipForbidden):
        services.invitation_resend(invitation=invitation, actor=Actor(user=member), base_url=BASE)


# --- Roles -------------------------------------------------------------------------------------


def test_owner_promotes_a_member_and_it_is_audited(org, owner, member):
    services.membership_change_role(
        membership=membership(member, org), role=Role.ADMIN, actor=Actor(user=owner)
    )
    assert membership(member, org).role == Role.ADMIN
    event = AuditEvent.objects.get(action="membership.role_changed")
    assert event.metadata == {"member": member.email, "from": "member", "to": "admin"}
    assert event.organization == org and event.actor_user == owner


def test_admin_cannot_promote_to_owner(org, admin, member):
    with pytest.raises(OwnerRequired) as exc:
        services.membership_change_role(
            membership=membership(member, org), role=Role.OWNER, actor=Actor(user=admin)
        )
    assert exc.value.code == "owner_required"
    assert membership(member, org).role == Role.MEMBER


def test_admin_cannot_demote_or_remove_an_owner(org, owner, admin, make_user):
    make_user(org, role=Role.OWNER)  # not the last owner: the refusal is about the admin
    with pytest.raises(OwnerRequired):
        services.membership_change_role(
            membership=membership(owner, org), role=Role.MEMBER, actor=Actor(user=admin)
        )
    with pytest.raises(OwnerRequired):
        services.membership_remove(membership=membership(owner, org), actor=Actor(user=admin))


def test_admin_changes_members_and_admins(org, admin, member, make_user):
    other_admin = make_user(org, role=Role.ADMIN)
    services.membership_change_role(
        membership=membership(member, org), role=Role.ADMIN, actor=Actor(user=admin)
    )
    services.membership_change_role(
        membership=membership(other_admin, org), role=Role.MEMBER, actor=Actor(user=admin)
    )
    assert membership(other_admin, org).role == Role.MEMBER


def test_a_member_cannot_change_roles_or_remove(org, owner, member, make_user):
    other = make_user(org, role=Role.MEMBER)
    with pytest.raises(MembershipForbidden):
        services.membership_change_role(
            membership=membership(member, org), role=Role.ADMIN, actor=Actor(user=member)
        )
    with pytest.raises(MembershipForbidden):
        services.membership_remove(membership=membership(other, org), actor=Actor(user=member))


def test_the_last_owner_can_be_neither_demoted_nor_removed(org, owner):
    with pytest.raises(LastOwner) as exc:
        services.membership_change_role(
            membership=membership(owner, org), role=Role.ADMIN, actor=Actor(user=owner)
        )
    assert exc.value.code == "last_owner"
    with pytest.raises(LastOwner):
        services.membership_remove(membership=membership(owner, org), actor=Actor(user=owner))
    assert membership(owner, org).role == Role.OWNER


def test_an_owner_steps_down_when_another_owner_remains(org, owner, make_user):
    make_user(org, role=Role.OWNER)
    services.membership_change_role(
        membership=membership(owner, org), role=Role.ADMIN, actor=Actor(user=owner)
    )
    assert membership(owner, org).role == Role.ADMIN


def test_unknown_role_is_refused(org, owner, member):
    with pytest.raises(UnknownRole):
        services.membership_change_role(
            membership=membership(member, org), role="god", actor=Actor(user=owner)
        )


def test_an_api_key_does_not_manage_members(org, member, live_key):
    key, _ = live_key
    with pytest.raises(MembershipForbidden):
        services.membership_change_role(
            membership=membership(member, org), role=Role.ADMIN, actor=Actor(key=key)
        )


def test_removal_is_audited_and_keys_stay(org, owner, admin, make_key):
    key, _ = make_key(org, actor=Actor(user=admin))
    services.membership_remove(membership=membership(admin, org), actor=Actor(user=owner))
    assert not Membership.objects.filter(user=admin, organization=org).exists()
    key.refresh_from_db()
    assert key.created_by == admin and key.organization == org
    event = AuditEvent.objects.get(action="membership.removed")
    assert event.metadata == {"member": admin.email, "from": "admin", "to": None}


def test_owner_of_another_organization_cannot_touch_this_one(org, member, make_org, make_user):
    stranger = make_user(make_org(), role=Role.OWNER)
    with pytest.raises(MembershipForbidden):
        services.membership_remove(membership=membership(member, org), actor=Actor(user=stranger))


def test_ownership_transfer(org, owner, member):
    services.organization_transfer_ownership(
        organization=org, to=membership(member, org), actor=Actor(user=owner)
    )
    assert membership(member, org).role == Role.OWNER
    assert membership(owner, org).role == Role.ADMIN
    event = AuditEvent.objects.get(action="organization.ownership_transferred")
    assert event.metadata["from_owner"] == owner.email
    assert event.metadata["to_owner"] == member.email


def test_only_an_owner_transfers_ownership(org, owner, admin, member):
    with pytest.raises(OwnerRequired):
        services.organization_transfer_ownership(
            organization=org, to=membership(member, org), actor=Actor(user=admin)
        )


def test_ownership_goes_only_to_a_member_of_the_same_organization(org, owner, make_org, make_user):
    other_org = make_org()
    outsider = make_user(other_org, role=Role.MEMBER)
    with pytest.raises(MemberNotFound):
        services.organization_transfer_ownership(
            organization=org, to=membership(outsider, other_org), actor=Actor(user=owner)
        )


def test_password_for_new_account_is_checked_by_the_validators(org, owner):
    invite(org, owner, email="ana@example.com")
    with pytest.raises(InvalidRequest):
        services.invitation_accept_new_account(token=last_token(), password="ana@example.com")


class FailingBackend:
    """An email backend whose server is down."""

    def __init__(self, *args, **kwargs):
        pass

    def send_messages(self, messages):
        raise ConnectionRefusedError("smtp down")


def test_an_email_failure_leaves_no_invitation_behind(org, owner, settings):
    settings.EMAIL_BACKEND = "tests.accounts.test_members_services.FailingBackend"
    with pytest.raises(ConnectionRefusedError):
        invite(org, owner)
    assert not Invitation.objects.exists()
    assert not AuditEvent.objects.filter(action="invitation.created").exists()
