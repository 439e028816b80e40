"""What every Developer Settings view shares: access checks, the actor, paging, plan limits."""

from dataclasses import dataclass, field
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import Http404
from django.shortcuts import render

from accounts.models import Organization
from apikeys import selectors
from apikeys.errors import KeyNotFound
from apikeys.models import ApiKey

PAGE_SIZE = 50


def member_required(view):
    """Let in signed-in members of the current organization (any role) to read."""

    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if request.organization is None:
            return render(request, "developer/no_organization.html", status=403)
        return view(request, *args, **kwargs)

    return wrapper


def manager_required(view):
    """Let in owners and admins only; a member gets 403 whatever the method."""

    @member_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.membership.can_manage_keys:
            raise PermissionDenied("Only owners and admins manage API keys.")
        return view(request, *args, **kwargs)

    return wrapper


def key_or_404(request, key_id: str) -> ApiKey:
    """Return the current organization's key; any other organization's key is a 404."""
    try:
        return selectors.apikey_get(organization=request.organization, key_id=key_id)
    except KeyNotFound:
        raise Http404("No such API key in this organization.") from None


def paginate(request, items, per_page: int = PAGE_SIZE):
    return Paginator(items, per_page).get_page(request.GET.get("page"))


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
    # Counted as the services count them: active and inactive keys, not revoked ones.
    used = dict(
        ApiKey.objects.filter(
            organization=organization,
            status__in=[ApiKey.Status.ACTIVE, ApiKey.Status.INACTIVE],
        )
        .values_list("type")
        .annotate(n=Count("id"))
    )
    limits = {key_type: plan.key_limit(key_type) for key_type in ApiKey.Type.values}
    return PlanStatus(plan_name=plan.name, eligible=True, used=used, limits=limits)


# --- One-time forms --------------------------------------------------------------------------
# The create and rotate forms carry a random nonce. The first POST with it claims it in the
# shared cache (an atomic add) and acts; a resubmission of the same form (reload, back button)
# finds it claimed and is told the key is not shown again, instead of silently making a second
# key. Only the Key ID is remembered, never the secret.
ONCE_TIMEOUT = 24 * 3600
_PENDING = "-"


def _once_key(request, nonce: str) -> str:
    return f"web-once:{request.user.pk}:{nonce}"


def once_claim(request, nonce: str) -> bool:
    """Claim the form's nonce; return False when it was used before."""
    return cache.add(_once_key(request, nonce), _PENDING, timeout=ONCE_TIMEOUT)


def once_release(request, nonce: str) -> None:
    """Give the nonce back after a refused submission, so the corrected form can be sent."""
    cache.delete(_once_key(request, nonce))


def once_done(request, nonce: str, key_id: str) -> None:
    cache.set(_once_key(request, nonce), key_id, timeout=ONCE_TIMEOUT)


def once_key_id(request, nonce: str) -> str | None:
    value = cache.get(_once_key(request, nonce))
    return None if value in (None, _PENDING) else value
