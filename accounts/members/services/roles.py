"""Changing a member's role, removing a member, and transferring ownership."""

from django.db import transaction

from accounts.audit import Actor, audit_record
from accounts.errors import AlreadyMember, MemberNotFound, OwnerRequired
from accounts.members.services.rules import (
    Role,
    acting_role,
    keeps_an_owner,
    may_change,
    may_grant,
    organization_lock,
    role_check,
)
from accounts.models import Membership, Organization, User


def _fresh(membership: Membership) -> Membership:
    current = (
        Membership.objects.select_related("user", "organization")
        .filter(pk=membership.pk, organization_id=membership.organization_id)
        .first()
    )
    if current is None:
        raise MemberNotFound()
    return current


@transaction.atomic
def membership_create(
    *, user: User, organization: Organization, role: str, actor: Actor
) -> Membership:
    """Make an existing ``user`` a member of the organization with ``role``.

    For operators (``add_member``) and owners or admins; only owners make owners. A person
    already a member is refused: their role changes through ``membership_change_role``.
    """
    role_check(role)
    organization = organization_lock(organization)
    may_grant(actor_role=acting_role(organization=organization, actor=actor), role=role)
    if Membership.objects.filter(user=user, organization=organization).exists():
        raise AlreadyMember(f"{user.email} is already a member of {organization.name}.")
    membership = Membership.objects.create(user=user, organization=organization, role=role)
    audit_record(
        actor=actor,
        action="membership.added",
        organization=organization,
        target=membership,
        target_label=f"{user.email} as {role}",
        metadata={"member": user.email, "from": None, "to": role},
    )
    return membership


@transaction.atomic
def membership_change_role(*, membership: Membership, role: str, actor: Actor) -> Membership:
    """Give the member ``role``.

    Owners change anyone's role; admins change members and admins but neither touch owners
    nor make anyone an owner; the last owner cannot be demoted. Audited as
    ``membership.role_changed`` with the role before and after.
    """
    role_check(role)
    organization = organization_lock(membership.organization)
    membership = _fresh(membership)
    actor_role = acting_role(organization=organization, actor=actor)
    may_change(actor_role=actor_role, target=membership)
    may_grant(actor_role=actor_role, role=role)
    before = membership.role
    if before == role:
        return membership
    if role != Role.OWNER:
        keeps_an_owner(target=membership)
    Membership.objects.filter(pk=membership.pk).update(role=role)
    membership.role = role
    audit_record(
        actor=actor,
        action="membership.role_changed",
        organization=organization,
        target=membership,
        target_label=f"{membership.user.email}: {before} → {role}",
        metadata={"member": membership.user.email, "from": before, "to": role},
    )
    return membership


@transaction.atomic
def membership_remove(*, membership: Membership, actor: Actor) -> None:
    """Remove the member from the organization.

    They lose its pages on their next request (the middleware reads the membership every
    time); the keys they created stay the organization's and keep working. Admins cannot
    remove owners; the last owner cannot be removed.
    """
    organization = organization_lock(membership.organization)
    membership = _fresh(membership)
    actor_role = acting_role(organization=organization, actor=actor)
    may_change(actor_role=actor_role, target=membership)
    keeps_an_owner(target=membership)
    audit_record(
        actor=actor,
        action="membership.removed",
        organization=organization,
        target=membership,
        target_label=f"{membership.user.email} (was {membership.role})",
        metadata={"member": membership.user.email, "from": membership.role, "to": None},
    )
    membership.delete()


@transaction.atomic
def organization_transfer_ownership(
    *, organization: Organization, to: Membership, actor: Actor
) -> Membership:
    """Make ``to`` an owner and the acting owner an admin, in one step.

    Only an owner transfers ownership, to another member of the same organization.
    """
    organization = organization_lock(organization)
    if to.organization_id != organization.pk:
        raise MemberNotFound()
    to = _fresh(to)
    if acting_role(organization=organization, actor=actor) != Role.OWNER or actor.user is None:
        raise OwnerRequired("Only an owner can transfer ownership.")
    if to.user_id == actor.user.pk:
        raise OwnerRequired("Choose another member to transfer ownership to.")
    before = to.role
    Membership.objects.filter(pk=to.pk).update(role=Role.OWNER)
    Membership.objects.filter(organization=organization, user=actor.user).update(role=Role.ADMIN)
    to.role = Role.OWNER
    audit_record(
        actor=actor,
        action="organization.ownership_transferred",
        organization=organization,
        target=to,
        target_label=f"{actor.user.email} → {to.user.email}",
        metadata={
            "from_owner": actor.user.email,
            "to_owner": to.user.email,
            "to_role_before": before,
            "from_owner_role_after": Role.ADMIN,
        },
    )
    return to
