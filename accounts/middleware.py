"""Attach the signed-in person's current organization and role to each web request."""

import time

from allauth.mfa.models import Authenticator
from allauth.mfa.utils import is_mfa_enabled
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.cache import add_never_cache_headers

from accounts.projects.selectors import project_scope
from accounts.selectors import membership_for

SESSION_KEY = "current_organization_id"


class CurrentOrganizationMiddleware:
    """Set ``request.membership``, ``request.organization`` and ``request.project_scope`` for
    signed-in people.

    ``project_scope`` is None for everyone but project admins, for whom it is the public ids of
    their projects: they see and manage those projects' pages and keys, and nothing else.

    The current organization is kept in the session (an id, never anything secret) and the
    membership is read from the database on every request. A person removed from the
    organization is refused on their next request, in every session they have open: this
    request has no organization (its pages answer 403) and the session forgets it, so the next
    request falls back to their first remaining organization, if any.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.membership = None
        request.organization = None
        request.project_scope = None
        if not request.path.startswith("/api/"):
            user = getattr(request, "user", None)
            if user is not None and user.is_authenticated:
                self._attach(request, user)
        return self.get_response(request)

    def _attach(self, request, user):
        wanted = request.session.get(SESSION_KEY)
        membership = membership_for(user=user, organization_id=wanted)
        if wanted is not None and (membership is None or membership.organization_id != wanted):
            # Removed since the last request: refuse this one rather than silently showing
            # another organization's pages in its place.
            request.session.pop(SESSION_KEY, None)
            messages.warning(
                request, "You are no longer a member of that organization.", fail_silently=True
            )
            return
        if membership is not None:
            request.membership = membership
            request.organization = membership.organization
            request.project_scope = project_scope(membership)
            if wanted is None:
                request.session[SESSION_KEY] = membership.organization_id


# --- The front door: session lifetime, required two-factor, no-store ------------------------
AUTH_STARTED_KEY = "signed_in_at"


def _is_page(request) -> bool:
    """Web pages, not the API (which authenticates by key and never uses the session)."""
    return not request.path.startswith("/api/")


class SessionLifetimeMiddleware:
    """End a session ``SESSION_ABSOLUTE_LIFETIME_SECONDS`` after its sign-in, however active.

    The idle timeout is Django's own: the session is saved on every request
    (``SESSION_SAVE_EVERY_REQUEST``) and expires ``SESSION_COOKIE_AGE`` after the last one.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if _is_page(request) and user is not None and user.is_authenticated:
            now = int(time.time())
            started = request.session.get(AUTH_STARTED_KEY)
            if started is None:
                request.session[AUTH_STARTED_KEY] = now
            elif now - int(started) > settings.SESSION_ABSOLUTE_LIFETIME_SECONDS:
                logout(request)
                messages.info(request, "Your session has ended. Please sign in again.")
                return redirect_to_login(request.get_full_path())
        return self.get_response(request)


# Pages a person who must set up two-factor can still reach: setting it up, signing out.
_TWO_FACTOR_OPEN_PREFIXES = ("/accounts/2fa/", "/accounts/logout/", "/accounts/reauthenticate/")


class TwoFactorRequiredMiddleware:
    """Send people who must have two-factor and have not set it up to its set-up page.

    Staff need it to use admin (also superusers made by ``createsuperuser --noinput``, on their
    first sign-in); members of an organization whose owner requires it need it for that
    organization's pages.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if (
            _is_page(request)
            and user is not None
            and user.is_authenticated
            and not request.path.startswith(_TWO_FACTOR_OPEN_PREFIXES)
            and two_factor_required(request)
            and not is_mfa_enabled(user, [Authenticator.Type.TOTP])
        ):
            messages.warning(
                request, "Set up two-factor authentication to continue: it is required here."
            )
            return HttpResponseRedirect(reverse("mfa_activate_totp"))
        return self.get_response(request)


def two_factor_required(request) -> bool:
    if request.path.startswith("/admin/") and request.user.is_staff:
        return True
    organization = getattr(request, "organization", None)
    return organization is not None and organization.require_two_factor


class SignedInNoStoreMiddleware:
    """``Cache-Control: no-store`` on every page answered to a signed-in person: they show
    private data, which no shared or browser cache may keep."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if _is_page(request) and user is not None and user.is_authenticated:
            add_never_cache_headers(response)
        return response
