"""Attach the signed-in person's current organization and role to each web request."""

from accounts.selectors import membership_for

SESSION_KEY = "current_organization_id"


class CurrentOrganizationMiddleware:
    """Set ``request.membership`` and ``request.organization`` for signed-in people.

    The current organization is kept in the session (an id, never anything secret); a person
    who no longer belongs to it falls back to their first organization.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.membership = None
        request.organization = None
        if not request.path.startswith("/api/"):
            user = getattr(request, "user", None)
            if user is not None and user.is_authenticated:
                membership = membership_for(
                    user=user, organization_id=request.session.get(SESSION_KEY)
                )
                if membership is not None:
                    request.membership = membership
                    request.organization = membership.organization
        return self.get_response(request)
