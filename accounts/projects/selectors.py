"""Reads of projects, always scoped to one organization, and who may manage which."""

from accounts.errors import ProjectNotFound
from accounts.models import Membership, Organization, Project, ProjectAdmin, User


def project_list(*, organization: Organization, include_archived: bool = True):
    """Return the organization's projects, the Default one first, then by name."""
    projects = Project.objects.filter(organization=organization)
    if not include_archived:
        projects = projects.filter(archived_at__isnull=True)
    return projects


def project_get(*, organization: Organization, project_id) -> Project:
    """Return the organization's project with this public id, or raise ``ProjectNotFound``."""
    if not isinstance(project_id, str) or not project_id.startswith("proj_"):
        raise ProjectNotFound()
    project = Project.objects.filter(organization=organization, project_id=project_id).first()
    if project is None:
        raise ProjectNotFound()
    return project


def project_default(*, organization: Organization) -> Project:
    """Return the organization's Default project."""
    return Project.objects.get(organization=organization, is_default=True)


def open_project_count(*, organization: Organization) -> int:
    """Return how many of the organization's projects count toward the plan's cap."""
    return Project.objects.filter(organization=organization, archived_at__isnull=True).count()


def managed_project_ids(*, user: User, organization: Organization) -> frozenset[str] | None:
    """Return the public ids of the projects ``user`` may manage keys in, read now.

    None means every project (owners and admins); an empty set, none (plain members). A
    project admin gets the projects they were granted. Read on every request, so a role
    removed a moment ago no longer counts.
    """
    role = (
        Membership.objects.filter(user=user, organization=organization)
        .values_list("role", flat=True)
        .first()
    )
    if role in (Membership.Role.OWNER, Membership.Role.ADMIN):
        return None
    if role is None:
        return frozenset()
    return frozenset(
        ProjectAdmin.objects.filter(
            membership__user=user, membership__organization=organization
        ).values_list("project__project_id", flat=True)
    )


def project_admins(*, project: Project):
    """Return the project's admin rows with their people."""
    return ProjectAdmin.objects.filter(project=project).select_related("membership__user")


def project_scope(membership: Membership) -> frozenset[str] | None:
    """Return the projects a person is confined to in their organization's pages.

    None for owners, admins and plain members (who read everything, as before projects); for
    a member who is project admin of some projects, those projects' public ids. Read on every
    request (one query, members only), so a role granted or removed applies to the next one.
    """
    if membership.role != Membership.Role.MEMBER:
        return None
    ids = frozenset(
        ProjectAdmin.objects.filter(
            membership=membership, project__archived_at__isnull=True
        ).values_list("project__project_id", flat=True)
    )
    return ids or None
