"""The request pipeline of every ``/api/v1/`` endpoint, in the design's order.

DRF's default classes are the whole pipeline (``REST_FRAMEWORK`` in the settings), so a new API
view gets every check without asking for it:

1. ``ApiKeyAuthentication`` (``apikeys.keys.authentication``): the key, its status, expiry and
   environment; it attaches a ``RequestState`` to the request. With Redis, the call that reads
   the key's record also counts the request (``keycache``); the steps below judge that count,
   and a request they refuse is taken back.
2. ``KeyAccess``: the client IP against the key's allowlist, then the plan's API access.
3. ``HasKeyPermission``: the view's ``required_permission``. A view that names none is refused
   (fail closed); a view open to any valid key says ``required_permission = ANY_KEY``.
4. ``KeyRateLimit``: the per-minute limit and the test-key daily quota (counted here when the
   authentication did not count).

Public views (schema, docs) opt out explicitly with empty ``authentication_classes`` and
``permission_classes``. ``RateLimitHeadersMiddleware`` adds the ``RateLimit-*`` headers to every
response to a request that got past authentication, refusals included.
"""

from dataclasses import dataclass

from rest_framework.permissions import BasePermission
from rest_framework.throttling import BaseThrottle

from apikeys.keys import ratelimit
from apikeys.keys.errors import (
    DailyQuotaExceeded,
    IpNotAllowed,
    MissingApiKey,
    PlanNotEligible,
    RateLimited,
)
from apikeys.keys.models import ApiKey
from perceptis.errors import PermissionRefused

# ``required_permission`` of an endpoint any valid key may call.
ANY_KEY = "*"


@dataclass
class RequestState:
    """What the pipeline learned about an API request: the key, client IP and limit state.

    ``counts`` are what the authentication's Redis call counted (None if it counted nothing),
    ``read_model`` the cached answer it fetched for the view, ``at`` when it counted;
    ``limited`` is set when the limiter refused the request.
    """

    key: ApiKey
    client_ip: str | None
    rate_limit: ratelimit.RateLimitState | None = None
    counts: ratelimit.Counts | None = None
    read_model: object | None = None
    at: float | None = None
    limited: bool = False

    @property
    def organization(self):
        return self.key.organization


def request_state(request) -> RequestState | None:
    """Return the pipeline's state of a Django or DRF request, or None before authentication."""
    return getattr(getattr(request, "_request", request), "api_state", None)


def attach_state(request, state: RequestState) -> None:
    # On Django's request, not DRF's wrapper, so that middleware sees it too.
    getattr(request, "_request", request).api_state = state


class KeyAccess(BasePermission):
    """Refuse requests from outside the key's IP allowlist, and organizations without API access."""

    # What each pipeline class can answer, for the OpenAPI schema (perceptis.openapi).
    errors = (MissingApiKey, IpNotAllowed, PlanNotEligible)

    def has_permission(self, request, view):
        state = request_state(request)
        if state is None:
            raise MissingApiKey()
        if not state.key.ip_allowed(state.client_ip):
            raise IpNotAllowed()
        plan = state.key.organization.plan
        if not plan.api_access:
            raise PlanNotEligible(
                f"API access needs a Business or Enterprise plan; this organization is on the "
                f"{plan.name} plan."
            )
        return True


class HasKeyPermission(BasePermission):
    """Refuse keys lacking the view's ``required_permission`` (403 ``insufficient_permissions``).

    ``required_permission`` is a permission, ``{method: permission}`` or ``ANY_KEY``. A view or
    method with none is refused: forgetting to name a permission must not open an endpoint.
    """

    errors = (PermissionRefused,)

    def has_permission(self, request, view):
        state = request_state(request)
        if state is None:
            return False
        required = getattr(view, "required_permission", None)
        if isinstance(required, dict):
            required = required.get(request.method)
        if required == ANY_KEY:
            return True
        if required is None or not state.key.has_permission(required):
            raise PermissionRefused(
                f"This API key needs the {required} permission."
                if required
                else "This endpoint is not open to API keys."
            )
        return True


class KeyRateLimit(BaseThrottle):
    """Count the request against the key's per-minute limit and, for test keys, daily quota."""

    errors = (RateLimited, DailyQuotaExceeded)

    def allow_request(self, request, view):
        state = request_state(request)
        if state is None:
            return True
        try:
            state.rate_limit = ratelimit.hit(state.key, now=state.at, counts=state.counts)
        except (RateLimited, DailyQuotaExceeded):
            # Counted, and refused with its own RateLimit-* headers: nothing to take back.
            state.limited = True
            raise
        return True


class RateLimitHeadersMiddleware:
    """Add ``RateLimit-Limit``, ``-Remaining`` and ``-Reset`` once a request has a key.

    Requests refused before the limiter judged them (IP, plan, permission) are not counted:
    what the authentication's Redis call counted for them is taken back, and the headers show
    the current window. The limiter's own refusals carry their headers.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        state = getattr(request, "api_state", None)
        if state is not None and not state.limited:
            limit = state.rate_limit
            if limit is None:
                counts = state.counts
                if counts is not None and counts.minute > 0:
                    ratelimit.refund(state.key, counts, now=state.at)
                limit = ratelimit.peek(state.key, now=state.at, counts=counts)
            for name, value in limit.headers().items():
                response[name] = value
        return response
