"""Reads about people and their organizations."""

from accounts.errors import OrganizationNotFound
from accounts.models import AuditEvent, Membership, Organization, User


def organization_by_slug(slug: str) -> Organization:
    """Return the organization with this slug (plan loaded), or raise ``OrganizationNotFound``."""
    organization = Organization.objects.select_related("plan").filter(slug=slug).first()
    if organization is None:
        raise OrganizationNotFound(f"No organization with slug {slug!r}.")
    return organization


def membership_for(*, user: User, organization_id: int | None) -> Membership | None:
    """Return the user's membership in that organization, or their first one."""
    qs = Membership.objects.filter(user=user).select_related("organization__plan")
    if organization_id is not None:
        membership = qs.filter(organization_id=organization_id).first()
        if membership is not None:
            return membership
    return qs.order_by("organization__name").first()


def organizations_for(*, user: User) -> list[Organization]:
    return list(Organization.objects.filter(memberships__user=user).order_by("name"))


def audit_events_for(*, organization: Organization):
    return AuditEvent.objects.filter(organization=organization).select_related(
        "actor_user", "actor_key"
    )


def manager_emails(*, organization: Organization) -> list[str]:
    """Return the addresses of the organization's active owners and admins, sorted."""
    return sorted(
        Membership.objects.filter(
            organization=organization,
            role__in=[Membership.Role.OWNER, Membership.Role.ADMIN],
            user__is_active=True,
        ).values_list("user__email", flat=True)
    )
