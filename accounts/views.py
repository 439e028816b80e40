"""The account page (two-factor, sessions, signing out everywhere) and the organization
switcher. Signing in and out, password change and reset are django-allauth's pages."""

from allauth.mfa.models import Authenticator
from allauth.mfa.utils import is_mfa_enabled
from allauth.usersessions.models import UserSession
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from accounts.audit import Actor, audit_record
from accounts.decorators import recent_authentication_required
from accounts.forms import KeyPolicyForm, OrganizationSwitchForm
from accounts.middleware import SESSION_KEY
from accounts.models import Membership
from accounts.selectors import organizations_for
from accounts.services import organization_set_key_policy, organization_set_two_factor_required
from perceptis.errors import DomainError


@require_GET
@login_required
def account(request):
    """Two-factor status and set-up, other signed-in sessions, and the organization's rule."""
    user = request.user
    membership = getattr(request, "membership", None)
    context = {
        "totp": is_mfa_enabled(user, [Authenticator.Type.TOTP]),
        "recovery_codes": Authenticator.objects.filter(
            user=user, type=Authenticator.Type.RECOVERY_CODES
        ).exists(),
        "session_count": UserSession.objects.filter(user=user).count(),
        "is_owner": membership is not None and membership.role == Membership.Role.OWNER,
    }
    if context["is_owner"]:
        context["key_policy_form"] = KeyPolicyForm.for_organization(request.organization)
    return render(request, "account/overview.html", context)


@require_POST
@login_required
@recent_authentication_required
def key_policy(request):
    """An owner sets the organization's key policy (maximum lifetime, required expiry)."""
    membership = getattr(request, "membership", None)
    if membership is None or membership.role != Membership.Role.OWNER:
        raise PermissionDenied("Only the organization's owners change this.")
    form = KeyPolicyForm(request.POST)
    if form.is_valid():
        try:
            organization_set_key_policy(
                organization=request.organization,
                actor=Actor.for_request(request),
                **form.service_kwargs(),
            )
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, "The key policy is saved; it applies to new keys.")
    else:
        messages.error(request, " ".join(e for errors in form.errors.values() for e in errors))
    return redirect("account")


@require_POST
@login_required
@recent_authentication_required
def two_factor_requirement(request):
    """An owner requires (or stops requiring) two-factor of every member of the organization."""
    membership = getattr(request, "membership", None)
    if membership is None or membership.role != Membership.Role.OWNER:
        raise PermissionDenied("Only the organization's owners change this.")
    required = request.POST.get("require_two_factor") == "on"
    try:
        organization_set_two_factor_required(
            organization=request.organization,
            required=required,
            actor=Actor.for_request(request),
            actor_has_two_factor=is_mfa_enabled(request.user, [Authenticator.Type.TOTP]),
        )
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        if required:
            messages.success(request, "Every member now needs two-factor for this organization.")
        else:
            messages.success(request, "Two-factor is no longer required in this organization.")
    return redirect("account")


@require_POST
@login_required
def sign_out_everywhere(request):
    """End every session of this person, in every browser, this one included."""
    user = request.user
    ended = 0
    for session in UserSession.objects.filter(user=user):
        session.end()
        ended += 1
    audit_record(
        actor=Actor.for_request(request),
        action="user.signed_out_everywhere",
        organization=None,
        target=user,
        metadata={"sessions": ended},
    )
    logout(request)
    messages.success(request, "You are signed out everywhere.")
    return redirect("account_login")


@login_required
@require_POST
def organization_switch(request):
    """Make another of the person's organizations the current one.

    An organization the person does not belong to is a 404, so ids of other organizations
    reveal nothing. Always lands on the key table: a page of the old organization (a key's
    page, say) would be a 404 in the new one.
    """
    form = OrganizationSwitchForm(request.POST)
    if not form.is_valid():
        raise Http404("No such organization.")
    wanted = form.cleaned_data["organization"]
    if wanted not in {org.pk for org in organizations_for(user=request.user)}:
        raise Http404("No such organization.")
    request.session[SESSION_KEY] = wanted
    return redirect("developer-settings")
