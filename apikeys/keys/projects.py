"""Which project a key is created in or moved to.

A key acting through the API reaches only its own project: naming another project, existing or
not, is the privilege rule's ``project`` axis (``403 exceeds_own_privileges``), so a key learns
nothing of the organization's other projects. People and operators name any open project of
the organization; an unknown or archived one is ``400 invalid_request`` on ``project``.
"""

from accounts.audit import Actor
from accounts.models import Organization, Project
from apikeys.keys import privileges


def key_project(*, organization: Organization, project, actor: Actor) -> Project:
    """Return the locked, open project a key goes into; ``project`` is a public id, a
    ``Project`` or None (the acting key's project, or the organization's Default one)."""
    wanted = getattr(project, "project_id", project)
    if actor.key is not None:
        if wanted is None:
            wanted = actor.key.project_id
        privileges.check_project(actor, project_id=wanted)
    projects = Project.objects.select_for_update().filter(organization=organization)
    found = (
        projects.filter(is_default=True).first()
        if wanted is None
        else projects.filter(project_id=wanted).first()
        if isinstance(wanted, str)
        else None
    )
    if found is None or found.archived_at is not None:
        raise ValueError("No such open project in this organization.")
    return found
