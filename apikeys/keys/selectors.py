"""Reads of keys, always scoped to one organization."""

from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Count
from django.utils import timezone

from accounts.models import Organization
from apikeys.keys.errors import KeyNotFound
from apikeys.keys.models import ApiKey


def apikey_list(
    *,
    organization: Organization,
    status: str | None = None,
    type: str | None = None,
    environment: str | None = None,
    now: datetime | None = None,
    test_only: bool = False,
    project: str | None = None,
    projects: frozenset[str] | None = None,
):
    """Return the organization's keys (deleted ones hidden), newest first, optionally filtered.

    ``status`` may be ``expired``, which is derived from ``expires_at``. ``test_only`` (a test
    key is asking) hides live keys whatever the other filters say. ``project`` filters by one
    project's public id; ``projects`` (None: all) is what the asker may see at all, a key its
    own project, a project admin their projects.
    """
    now = now or timezone.now()
    qs = ApiKey.objects.filter(organization=organization, deleted_at__isnull=True).select_related(
        "created_by", "organization__plan"
    )
    if status:
        qs = qs.with_status(status, now)
    if type:
        qs = qs.filter(type=type)
    if test_only:
        qs = qs.filter(type=ApiKey.Type.TEST)
    if environment:
        qs = qs.filter(environment=environment)
    if project:
        qs = qs.filter(project_id=project)
    if projects is not None:
        qs = qs.filter(project_id__in=projects)
    return qs


def apikey_get(
    *,
    organization: Organization,
    key_id: str,
    test_only: bool = False,
    projects: frozenset[str] | None = None,
) -> ApiKey:
    """Return the organization's key with this Key ID, or raise ``KeyNotFound`` (404).

    With ``test_only`` (a test key is asking) a live key is not found either; with
    ``projects``, a key of any other project (another project's key is as missing as another
    organization's).
    """
    keys = ApiKey.objects.filter(organization=organization, key_id=key_id, deleted_at__isnull=True)
    if test_only:
        keys = keys.filter(type=ApiKey.Type.TEST)
    if projects is not None:
        keys = keys.filter(project_id__in=projects)
    key = keys.select_related("created_by", "organization__plan").first()
    if key is None:
        raise KeyNotFound()
    return key


def apikey_counts_by_type(*, organization: Organization) -> dict[str, int]:
    """Return ``{type: count}`` of the keys that count toward the plan's limits.

    Active and inactive keys count; revoked ones do not. Key creation and the pages both use it.
    """
    return dict(
        ApiKey.objects.filter(
            organization=organization,
            status__in=[ApiKey.Status.ACTIVE, ApiKey.Status.INACTIVE],
        )
        .values_list("type")
        .annotate(n=Count("id"))
        .order_by()
    )


@dataclass
class PlanStatus:
    """What the organization's plan lets it do with keys, for the pages to explain."""

    plan_name: str
    eligible: bool
    used: dict = field(default_factory=dict)
    limits: dict = field(default_factory=dict)

    @property
    def full_types(self) -> list[str]:
        return [
            key_type
            for key_type, limit in self.limits.items()
            if limit is not None and self.used.get(key_type, 0) >= limit
        ]

    @property
    def can_create(self) -> bool:
        return self.eligible and len(self.full_types) < len(ApiKey.Type.values)

    def rows(self) -> list[dict]:
        return [
            {
                "type": label,
                "used": self.used.get(value, 0),
                "limit": self.limits.get(value),
                "full": value in self.full_types,
            }
            for value, label in ApiKey.Type.choices
        ]


def plan_status(organization: Organization) -> PlanStatus:
    plan = organization.plan
    if not plan.api_access:
        return PlanStatus(plan_name=plan.name, eligible=False)
    used = apikey_counts_by_type(organization=organization)
    limits = {key_type: plan.key_limit(key_type) for key_type in ApiKey.Type.values}
    return PlanStatus(plan_name=plan.name, eligible=True, used=used, limits=limits)
