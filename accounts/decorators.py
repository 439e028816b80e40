"""Access to the signed-in pages of an organization (Developer Settings), by role."""

import time
from functools import wraps

from allauth.account.decorators import reauthentication_required
from allauth.account.internal.flows.login import get_authentication_records
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import render


def project_member_required(view):
    """Let in signed-in members of the current organization (any role), project admins
    included: the view confines what it reads to ``request.project_scope``."""

    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if request.organization is None:
            return render(request, "developer/no_organization.html", status=403)
        return view(request, *args, **kwargs)

    return wrapper


def member_required(view):
    """Let in signed-in members of the current organization (any role) to read the whole
    organization's pages; a project admin, who sees only their projects, gets 403."""

    @project_member_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if request.project_scope is not None:
            raise PermissionDenied("Project admins see only their projects' pages.")
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


def key_manager_required(view):
    """Let in owners and admins, and project admins (the view finds keys within their
    projects only: any other is 404); a plain member gets 403 whatever the method."""

    @project_member_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not (request.membership.can_manage_keys or request.project_scope):
            raise PermissionDenied("Only owners, admins and project admins manage API keys.")
        return view(request, *args, **kwargs)

    return wrapper


def recently_authenticated(request) -> bool:
    """Whether the person gave their password or a two-factor code (signing in or
    re-authenticating) within ``ACCOUNT_REAUTHENTICATION_TIMEOUT`` seconds."""
    if not request.user.is_authenticated:
        return False
    window = settings.ACCOUNT_REAUTHENTICATION_TIMEOUT
    records = get_authentication_records(request, request.user)
    times = [r.get("at", 0) for r in records if r.get("method") in ("password", "mfa")]
    return bool(times) and time.time() - max(times) < window


def recent_authentication_required(view):
    """Ask for the password or a two-factor code again unless the person gave one (signing in
    or re-authenticating) within ``ACCOUNT_REAUTHENTICATION_TIMEOUT`` seconds (10 minutes).

    For any sensitive change: creating or rotating keys, and changing members, roles or spend
    limits. Put it inside ``manager_required`` (or a similar role check), so that someone who
    may not act anyway is refused before being asked for the password. allauth keeps an
    interrupted POST and carries it out after the person has re-authenticated.
    """
    return reauthentication_required(
        view, enabled=lambda request: not recently_authenticated(request)
    )
