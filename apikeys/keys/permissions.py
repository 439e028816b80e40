"""DRF permission classes of the request pipeline, in the pipeline's order.

``KeyAccess`` runs first (client IP, then the plan's API access), then ``HasKeyPermission``
checks the endpoint's permission, named by the view's ``required_permission``.
"""

from rest_framework.permissions import BasePermission

from apikeys.errors import InsufficientPermissions, IpNotAllowed, PlanNotEligible
from apikeys.models import ApiKey
from perceptis.errors import ApiError


def _key(request) -> ApiKey | None:
    return request.auth if isinstance(request.auth, ApiKey) else None


class KeyAccess(BasePermission):
    """Refuse requests from outside the key's IP allowlist, and organizations without API access."""

    def has_permission(self, request, view):
        key = _key(request)
        if key is None:
            return False  # DRF answers 401 missing_api_key with WWW-Authenticate.
        if not key.ip_allowed(getattr(request._request, "client_ip", None)):
            raise ApiError(IpNotAllowed())
        plan = key.organization.plan
        if not plan.api_access:
            raise ApiError(
                PlanNotEligible(
                    f"API access needs a Business or Enterprise plan; this organization is on "
                    f"the {plan.name} plan."
                )
            )
        return True


class HasKeyPermission(BasePermission):
    """Refuse keys lacking the view's ``required_permission`` (403 ``insufficient_permissions``)."""

    def has_permission(self, request, view):
        key = _key(request)
        if key is None:
            return False
        required = getattr(view, "required_permission", None)
        if required is None:
            return True
        if isinstance(required, dict):
            required = required.get(request.method)
            if required is None:
                return True
        if not key.has_permission(required):
            raise ApiError(
                InsufficientPermissions(f"This API key needs the {required} permission.")
            )
        return True
