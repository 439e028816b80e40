"""Access to the signed-in pages of an organization (Developer Settings), by role."""

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import render


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
