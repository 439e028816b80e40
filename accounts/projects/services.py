"""Every change to an organization's projects and their admins.

Owners and admins (and operators' commands, acting as the system) create, rename, limit and
archive projects and grant the project admin role; API keys and other members are refused.
Each service writes its audit row in the same transaction as the change.
"""

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.audit import Actor, audit_record
from accounts.errors import MembershipForbidden, ProjectHasKeys, ProjectLimitReached
from accounts.members.services.rules import organization_lock
from accounts.models import Membership, Organization, Project, ProjectAdmin, new_project_id
from accounts.projects.selectors import open_project_count
from perceptis.errors import InvalidRequest
from perceptis.validation import clean_fields, clean_name

DEFAULT_PROJECT_NAME = "Default"
# The largest monthly limit a project may be given, as the organization's (credits).
MAX_SPEND_LIMIT = 10**12


class _Unset:
    def __repr__(self):
        return "UNSET"


UNSET = _Unset()


def _manager_check(*, organization: Organization, actor: Actor) -> None:
    """Refuse anyone but the organization's owners and admins (and the system, and staff,
    whose admin pages check their own permissions).

    The role is read inside the transaction, so a demotion a moment ago counts.
    """
    if actor.user is None:
        if actor.key is not None:
            raise MembershipForbidden("API keys do not manage projects.")
        return
    if actor.user.is_staff:
        return
    role = (
        Membership.objects.filter(user=actor.user, organization=organization)
        .values_list("role", flat=True)
        .first()
    )
    if role not in (Membership.Role.OWNER, Membership.Role.ADMIN):
        raise MembershipForbidden("Only the organization's owners and admins manage projects.")


def clean_project_spend_limit(value) -> int | None:
    """Return a monthly limit in whole credits (0 allowed), or None for none."""
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_SPEND_LIMIT:
        raise ValueError(f"A whole number of credits from 0 to {MAX_SPEND_LIMIT}, or none.")
    return value


def clean_rate_limit_ceiling(value, plan_limit: int) -> int | None:
    """Return a ceiling of requests per minute from 1 to the plan's limit, or None (the plan's)."""
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= plan_limit:
        raise ValueError(f"A whole number of requests per minute from 1 to {plan_limit}, or none.")
    return value


def _new(organization: Organization, **fields) -> Project:
    for _ in range(3):
        try:
            with transaction.atomic():
                return Project.objects.create(
                    organization=organization, project_id=new_project_id(), **fields
                )
        except IntegrityError:  # an id collision: 119 bits make it all but impossible
            continue
    raise IntegrityError("Could not allocate a project id.")


def project_create_default(*, organization: Organization) -> Project:
    """Create the organization's Default project; call in the transaction that creates it."""
    return _new(organization, name=DEFAULT_PROJECT_NAME, is_default=True)


@transaction.atomic
def project_create(
    *,
    organization: Organization,
    name: str,
    actor: Actor,
    monthly_spend_limit: int | None = None,
    rate_limit_ceiling: int | None = None,
) -> Project:
    """Create a project; refused past the plan's open projects (``project_limit_reached``).

    The organization's row is locked, so concurrent creations cannot both pass the cap.
    """
    organization = organization_lock(organization)
    _manager_check(organization=organization, actor=actor)
    plan = organization.plan
    cleaned = clean_fields(
        {
            "name": lambda: clean_name(name, what="project"),
            "monthly_spend_limit": lambda: clean_project_spend_limit(monthly_spend_limit),
            "rate_limit_ceiling": lambda: clean_rate_limit_ceiling(
                rate_limit_ceiling, plan.rate_limit_per_minute
            ),
        }
    )
    used = open_project_count(organization=organization)
    if plan.project_limit is not None and used >= plan.project_limit:
        raise ProjectLimitReached(
            f"The {plan.name} plan allows {plan.project_limit} open project"
            f"{'s' if plan.project_limit != 1 else ''} and the organization has {used}. "
            "Archive one, or move to a larger plan."
        )
    project = _new(organization, **cleaned)
    audit_record(
        actor=actor,
        action="project.created",
        organization=organization,
        target=project,
        metadata={k: v for k, v in cleaned.items() if k != "name"},
    )
    return project


def _lock(project: Project) -> Project:
    return (
        Project.objects.select_for_update().select_related("organization__plan").get(pk=project.pk)
    )


@transaction.atomic
def project_update(
    *,
    project: Project,
    actor: Actor,
    name=UNSET,
    monthly_spend_limit=UNSET,
    rate_limit_ceiling=UNSET,
) -> Project:
    """Rename a project or change its monthly spend limit or rate-limit ceiling.

    Only the arguments given change, each audited (``project.renamed``,
    ``project.spend_limit_changed``, ``project.rate_limit_ceiling_changed``). A new ceiling
    lowers every key of the project above it (or on the plan's limit) to the ceiling, in the
    same transaction, so no key of the project is ever allowed more.
    """
    if rate_limit_ceiling is not UNSET:
        # Keys before the project, the order a submission locks them in (key, project), so a
        # ceiling change and a generate never wait on each other in a circle.
        list(project.api_keys.select_for_update().order_by("pk").values_list("pk", flat=True))
    project = _lock(project)
    _manager_check(organization=project.organization, actor=actor)
    plan_limit = project.organization.plan.rate_limit_per_minute
    checks = {
        "name": (name, lambda: clean_name(name, what="project")),
        "monthly_spend_limit": (
            monthly_spend_limit,
            lambda: clean_project_spend_limit(monthly_spend_limit),
        ),
        "rate_limit_ceiling": (
            rate_limit_ceiling,
            lambda: clean_rate_limit_ceiling(rate_limit_ceiling, plan_limit),
        ),
    }
    cleaned = clean_fields({f: check for f, (value, check) in checks.items() if value is not UNSET})
    actions = {
        "name": "project.renamed",
        "monthly_spend_limit": "project.spend_limit_changed",
        "rate_limit_ceiling": "project.rate_limit_ceiling_changed",
    }
    for field, value in cleaned.items():
        old = getattr(project, field)
        if old == value:
            continue
        setattr(project, field, value)
        project.save(update_fields=[field])
        metadata = {"from": old, "to": value}
        if field == "rate_limit_ceiling" and value is not None:
            metadata["keys_lowered"] = _keys_under_ceiling(project, value)
        audit_record(
            actor=actor,
            action=actions[field],
            organization=project.organization,
            target=project,
            metadata=metadata,
        )
    return project


def _keys_under_ceiling(project: Project, ceiling: int) -> list[str]:
    """Lower the project's keys above ``ceiling`` to it; return their Key IDs.

    Saved one by one, so each key's cached record is invalidated as on any other change.
    Keys are reached through the relation: ``accounts`` sits below ``apikeys``.
    """
    lowered = []
    for key in project.api_keys.exclude(status="revoked").order_by("pk"):  # locked already
        if key.rate_limit_per_minute is None or key.rate_limit_per_minute > ceiling:
            key.rate_limit_per_minute = ceiling
            key.save(update_fields=["rate_limit_per_minute"])
            lowered.append(key.key_id)
    return lowered


@transaction.atomic
def project_archive(*, project: Project, actor: Actor) -> Project:
    """Archive a project whose keys are all revoked (``project_has_keys`` otherwise).

    The Default project is never archived. An archived project takes no new keys and no
    longer counts toward the plan's cap; its jobs, usage and ledger rows stay.
    """
    project = _lock(project)
    _manager_check(organization=project.organization, actor=actor)
    if project.is_default:
        raise InvalidRequest(
            "The Default project cannot be archived.",
            fields={"project": ["The Default project cannot be archived."]},
        )
    if project.archived_at is not None:
        return project
    live = project.api_keys.exclude(status="revoked").count()
    if live:
        raise ProjectHasKeys(
            f"The project has {live} key{'s' if live != 1 else ''} not revoked; revoke "
            f"{'them' if live != 1 else 'it'} before archiving the project."
        )
    project.archived_at = timezone.now()
    project.save(update_fields=["archived_at"])
    audit_record(
        actor=actor, action="project.archived", organization=project.organization, target=project
    )
    return project


@transaction.atomic
def project_admin_grant(*, project: Project, membership: Membership, actor: Actor) -> ProjectAdmin:
    """Make a member project admin of ``project`` (audited ``project.admin_granted``).

    Owners and admins already manage every project, so only a ``member`` is granted the role;
    granting it twice changes nothing.
    """
    organization = organization_lock(project.organization)
    _manager_check(organization=organization, actor=actor)
    if membership.organization_id != organization.pk:
        raise InvalidRequest("That person is not a member of this organization.")
    if membership.role != Membership.Role.MEMBER:
        raise InvalidRequest("Owners and admins already manage every project.")
    if project.archived_at is not None:
        raise InvalidRequest("The project is archived.")
    row, created = ProjectAdmin.objects.get_or_create(membership=membership, project=project)
    if created:
        audit_record(
            actor=actor,
            action="project.admin_granted",
            organization=organization,
            target=project,
            metadata={"user": membership.user.email},
        )
    return row


@transaction.atomic
def project_admin_revoke(*, project: Project, membership: Membership, actor: Actor) -> None:
    """Take the project admin role away; it stops at the person's next request."""
    organization = organization_lock(project.organization)
    _manager_check(organization=organization, actor=actor)
    deleted, _ = ProjectAdmin.objects.filter(membership=membership, project=project).delete()
    if deleted:
        audit_record(
            actor=actor,
            action="project.admin_revoked",
            organization=organization,
            target=project,
            metadata={"user": membership.user.email},
        )
