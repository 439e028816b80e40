"""Inviting people by email, and revoking, resending and accepting invitations."""

from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from accounts.audit import Actor, audit_record
from accounts.errors import (
    AccountExists,
    AlreadyMember,
    InvitationPending,
    InvitationWrongAccount,
    MembershipForbidden,
)
from accounts.members.emails import invitation_email_send
from accounts.members.selectors import invitation_by_token
from accounts.members.services.rules import acting_role, may_grant, organization_lock, role_check
from accounts.members.tokens import token_hash, token_new
from accounts.models import Invitation, Membership, Organization, User
from accounts.services import user_create
from perceptis.errors import InvalidRequest


def _expiry(now):
    return now + timedelta(days=settings.ACCOUNTS_INVITATION_DAYS)


def _audit(invitation: Invitation, *, actor: Actor, action: str, **extra) -> None:
    inviter = invitation.invited_by.email if invitation.invited_by else actor.label
    audit_record(
        actor=actor,
        action=action,
        organization=invitation.organization,
        target=invitation,
        target_label=f"{invitation.email} as {invitation.role}",
        metadata={"inviter": inviter, "invitee": invitation.email, "role": invitation.role} | extra,
    )


@transaction.atomic
def invitation_create(
    *, organization: Organization, email: str, role: str, actor: Actor, base_url: str, now=None
) -> Invitation:
    """Invite ``email`` to the organization with ``role`` and email them a single-use link.

    Owners and admins invite; only owners invite owners. An address already a member, or with
    a pending invitation, is refused. Only the token's HMAC is stored; the email is sent inside
    the transaction, so a backend failure leaves no invitation behind.
    """
    now = now or timezone.now()
    email = (email or "").strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        raise InvalidRequest(f"{email!r} is not a valid email address.") from None
    role_check(role)
    organization = organization_lock(organization)
    actor_role = acting_role(organization=organization, actor=actor)
    may_grant(actor_role=actor_role, role=role)
    if Membership.objects.filter(organization=organization, user__email__iexact=email).exists():
        raise AlreadyMember(f"{email} is already a member of {organization.name}.")
    pending = Invitation.objects.filter(
        organization=organization,
        email__iexact=email,
        accepted_at__isnull=True,
        revoked_at__isnull=True,
        expires_at__gt=now,
    )
    if pending.exists():
        raise InvitationPending(f"{email} already has a pending invitation: resend or revoke it.")
    token = token_new()
    invitation = Invitation.objects.create(
        organization=organization,
        email=email,
        role=role,
        token_hash=token_hash(token),
        invited_by=actor.user,
        created_at=now,
        sent_at=now,
        expires_at=_expiry(now),
    )
    _audit(invitation, actor=actor, action="invitation.created")
    invitation_email_send(invitation=invitation, token=token, base_url=base_url)
    return invitation


def _pending_locked(invitation: Invitation, now) -> Invitation:
    current = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if not current.is_pending(now):
        raise InvalidRequest(f"This invitation is {current.status(now)}, not pending.")
    return current


@transaction.atomic
def invitation_revoke(
    *, invitation: Invitation, actor: Actor, support: bool = False, now=None
) -> Invitation:
    """Withdraw a pending invitation: its link stops working at once.

    ``support``: staff revoking in admin, who need ``accounts.change_invitation`` rather than
    a role in the organization.
    """
    now = now or timezone.now()
    organization = organization_lock(invitation.organization)
    if support:
        if actor.user is None or not actor.user.has_perm("accounts.change_invitation"):
            raise MembershipForbidden("Revoking invitations in admin needs the permission.")
    else:
        actor_role = acting_role(organization=organization, actor=actor)
    invitation = _pending_locked(invitation, now)
    if not support:
        may_grant(actor_role=actor_role, role=invitation.role)
    Invitation.objects.filter(pk=invitation.pk).update(revoked_at=now)
    invitation.revoked_at = now
    _audit(invitation, actor=actor, action="invitation.revoked")
    return invitation


@transaction.atomic
def invitation_resend(
    *, invitation: Invitation, actor: Actor, base_url: str, now=None
) -> Invitation:
    """Email a new link for a pending invitation; the old link stops working and the
    invitation's validity starts again."""
    now = now or timezone.now()
    organization = organization_lock(invitation.organization)
    actor_role = acting_role(organization=organization, actor=actor)
    invitation = _pending_locked(invitation, now)
    may_grant(actor_role=actor_role, role=invitation.role)
    token = token_new()
    invitation.token_hash = token_hash(token)
    invitation.sent_at = now
    invitation.expires_at = _expiry(now)
    invitation.save(update_fields=["token_hash", "sent_at", "expires_at"])
    _audit(invitation, actor=actor, action="invitation.resent")
    invitation_email_send(invitation=invitation, token=token, base_url=base_url)
    return invitation


def _join(invitation: Invitation, *, user: User, actor: Actor, now) -> Membership:
    if Membership.objects.filter(organization=invitation.organization, user=user).exists():
        raise AlreadyMember(f"You are already a member of {invitation.organization.name}.")
    membership = Membership.objects.create(
        organization=invitation.organization, user=user, role=invitation.role, created_at=now
    )
    Invitation.objects.filter(pk=invitation.pk).update(accepted_at=now, accepted_by=user)
    invitation.accepted_at, invitation.accepted_by = now, user
    _audit(invitation, actor=actor, action="invitation.accepted")
    return membership


@transaction.atomic
def invitation_accept(*, token: str, user: User, actor: Actor, now=None) -> Membership:
    """Make the signed-in ``user`` a member through the invitation link's ``token``.

    The invitation must be pending and addressed to the user's own email: a forwarded link
    does not let another account in.
    """
    now = now or timezone.now()
    invitation = invitation_by_token(token, now=now, for_update=True)
    if invitation.email.lower() != user.email.lower():
        raise InvitationWrongAccount(
            f"This invitation is for {invitation.email}; you are signed in as {user.email}."
        )
    return _join(invitation, user=user, actor=actor, now=now)


@transaction.atomic
def invitation_accept_new_account(
    *, token: str, password: str, full_name: str = "", ip: str | None = None, now=None
) -> Membership:
    """Create the invited person's account with ``password`` and make them a member.

    An address that already has an account is refused: that person signs in to accept.
    """
    now = now or timezone.now()
    invitation = invitation_by_token(token, now=now, for_update=True)
    if User.objects.filter(email__iexact=invitation.email).exists():
        raise AccountExists()
    user = user_create(
        email=invitation.email,
        password=password,
        actor=Actor(ip=ip, label_override=f"{invitation.email} (invitation)"),
    )
    if full_name.strip():
        User.objects.filter(pk=user.pk).update(full_name=full_name.strip()[:150])
        user.full_name = full_name.strip()[:150]
    return _join(invitation, user=user, actor=Actor(user=user, ip=ip), now=now)
