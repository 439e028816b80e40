"""Reads about an organization's members and invitations, always scoped by organization."""

from allauth.mfa.models import Authenticator
from django.db.models import Exists, OuterRef
from django.utils import timezone

from accounts.errors import (
    InvitationExpired,
    InvitationNotFound,
    InvitationRevoked,
    InvitationUsed,
    MemberNotFound,
)
from accounts.members.tokens import token_hash
from accounts.models import Invitation, Membership, Organization


def membership_list(*, organization: Organization):
    """Return the organization's memberships with their people and two-factor status
    (``has_two_factor``), owners first."""
    totp = Authenticator.objects.filter(user=OuterRef("user"), type=Authenticator.Type.TOTP)
    order = {"owner": 0, "admin": 1, "member": 2}
    rows = list(
        Membership.objects.filter(organization=organization)
        .select_related("user")
        .annotate(has_two_factor=Exists(totp))
    )
    return sorted(rows, key=lambda m: (order.get(m.role, 9), m.user.email))


def membership_get(*, organization: Organization, pk) -> Membership:
    """Return the organization's membership ``pk``; another organization's is not found."""
    membership = (
        Membership.objects.select_related("user", "organization")
        .filter(organization=organization, pk=pk)
        .first()
    )
    if membership is None:
        raise MemberNotFound()
    return membership


def invitation_pending_list(*, organization: Organization, now=None):
    """Return the organization's invitations not yet accepted, revoked or expired."""
    now = now or timezone.now()
    return Invitation.objects.filter(
        organization=organization,
        accepted_at__isnull=True,
        revoked_at__isnull=True,
        expires_at__gt=now,
    ).select_related("invited_by")


def invitation_get(*, organization: Organization, pk) -> Invitation:
    """Return the organization's invitation ``pk``; another organization's is not found."""
    invitation = (
        Invitation.objects.select_related("organization", "invited_by")
        .filter(organization=organization, pk=pk)
        .first()
    )
    if invitation is None:
        raise InvitationNotFound("No such invitation in this organization.")
    return invitation


def invitation_by_token(token: str, *, now=None, for_update: bool = False) -> Invitation:
    """Return the pending invitation whose link carries ``token``.

    Raise ``InvitationNotFound``, ``InvitationUsed``, ``InvitationRevoked`` or
    ``InvitationExpired`` otherwise. ``for_update`` locks the row (inside a transaction), so
    that one link is accepted once however many tabs follow it.
    """
    if not isinstance(token, str) or not 20 <= len(token) <= 100:
        raise InvitationNotFound()
    qs = Invitation.objects.select_related("organization", "invited_by")
    if for_update:
        qs = qs.select_for_update(of=("self",))
    invitation = qs.filter(token_hash=token_hash(token)).first()
    if invitation is None:
        raise InvitationNotFound()
    status = invitation.status(now or timezone.now())
    if status == Invitation.Status.ACCEPTED:
        raise InvitationUsed()
    if status == Invitation.Status.REVOKED:
        raise InvitationRevoked()
    if status == Invitation.Status.EXPIRED:
        raise InvitationExpired()
    return invitation
