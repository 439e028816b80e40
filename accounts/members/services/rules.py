"""Who may do what to whom: the checks every member service makes before it writes."""

from accounts.audit import Actor
from accounts.errors import LastOwner, MembershipForbidden, OwnerRequired, UnknownRole
from accounts.models import Membership, Organization

Role = Membership.Role


def organization_lock(organization: Organization) -> Organization:
    """Lock the organization's row for the transaction (PostgreSQL), so that two changes to
    its owners cannot both pass the last-owner check."""
    return Organization.objects.select_for_update().get(pk=organization.pk)


def role_check(role: str) -> str:
    """Return ``role`` if it is owner, admin or member; refuse anything else."""
    if role not in Role.values:
        raise UnknownRole(f"Unknown role {role!r}: choose owner, admin or member.")
    return role


def acting_role(*, organization: Organization, actor: Actor) -> str:
    """Return the actor's role in the organization, refusing anyone but owners and admins.

    A system actor (an operator's command) acts as an owner. The role is read from the
    database inside the transaction, never from the request, so a demotion a moment ago counts.
    """
    if actor.user is None:
        if actor.key is not None:
            raise MembershipForbidden("API keys do not manage members.")
        return Role.OWNER
    role = (
        Membership.objects.filter(user=actor.user, organization=organization)
        .values_list("role", flat=True)
        .first()
    )
    if role not in (Role.OWNER, Role.ADMIN):
        raise MembershipForbidden()
    return role


def may_grant(*, actor_role: str, role: str) -> None:
    """Refuse an admin making anyone an owner."""
    if role == Role.OWNER and actor_role != Role.OWNER:
        raise OwnerRequired("Only an owner can make someone an owner.")


def may_change(*, actor_role: str, target: Membership) -> None:
    """Refuse an admin changing or removing an owner."""
    if target.role == Role.OWNER and actor_role != Role.OWNER:
        raise OwnerRequired("Only an owner can change or remove an owner.")


def keeps_an_owner(*, target: Membership) -> None:
    """Refuse taking the owner role from the organization's only owner."""
    if target.role != Role.OWNER:
        return
    others = (
        Membership.objects.filter(organization_id=target.organization_id, role=Role.OWNER)
        .exclude(pk=target.pk)
        .exists()
    )
    if not others:
        raise LastOwner()
