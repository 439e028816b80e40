"""The Members page of Developer Settings and the changes owners and admins make there."""

from allauth.account.internal.flows.login import record_authentication
from django.contrib import messages
from django.contrib.auth import login
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.audit import Actor
from accounts.decorators import manager_required, member_required, recent_authentication_required
from accounts.errors import InvitationNotFound, MemberNotFound
from accounts.members import selectors, services
from accounts.members.forms import InviteForm, NewAccountForm, RoleForm
from accounts.middleware import SESSION_KEY
from accounts.models import Membership, User
from perceptis.clientip import client_ip
from perceptis.errors import DomainError


def _base_url(request) -> str:
    return request.build_absolute_uri("/")


def _membership_or_404(request, pk) -> Membership:
    try:
        return selectors.membership_get(organization=request.organization, pk=pk)
    except MemberNotFound:
        raise Http404("No such member in this organization.") from None


def _invitation_or_404(request, pk):
    try:
        return selectors.invitation_get(organization=request.organization, pk=pk)
    except InvitationNotFound:
        raise Http404("No such invitation in this organization.") from None


def _members_page(request, form=None, status=200):
    context = {
        "members": selectors.membership_list(organization=request.organization),
        "invitations": selectors.invitation_pending_list(organization=request.organization),
        "form": form or InviteForm(),
        "roles": Membership.Role.choices,
        "is_owner": request.membership.role == Membership.Role.OWNER,
        "now": timezone.now(),
    }
    return render(request, "developer/members.html", context, status=status)


@require_GET
@member_required
def member_list(request):
    """Members with their role, two-factor, joined and last sign-in; pending invitations."""
    return _members_page(request)


@require_POST
@manager_required
@recent_authentication_required
def member_invite(request):
    """Invite an address with a role; the email carries the single-use link."""
    form = InviteForm(request.POST)
    if form.is_valid():
        try:
            services.invitation_create(
                organization=request.organization,
                email=form.cleaned_data["email"],
                role=form.cleaned_data["role"],
                actor=Actor.for_request(request),
                base_url=_base_url(request),
            )
        except DomainError as exc:
            form.add_error("email", exc.message)
        else:
            messages.success(request, f"Invitation sent to {form.cleaned_data['email']}.")
            return redirect("developer-members")
    return _members_page(request, form=form, status=400)


def _act(request, action, success: str):
    """Run the service call; show its refusal or ``success`` on the Members page."""
    try:
        action()
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, success)
    return redirect("developer-members")


@require_POST
@manager_required
@recent_authentication_required
def invitation_revoke(request, pk):
    """Withdraw a pending invitation of the current organization."""
    invitation = _invitation_or_404(request, pk)
    return _act(
        request,
        lambda: services.invitation_revoke(invitation=invitation, actor=Actor.for_request(request)),
        f"The invitation to {invitation.email} is revoked.",
    )


@require_POST
@manager_required
@recent_authentication_required
def invitation_resend(request, pk):
    """Email a pending invitation again with a new link; the old link stops working."""
    invitation = _invitation_or_404(request, pk)
    return _act(
        request,
        lambda: services.invitation_resend(
            invitation=invitation, actor=Actor.for_request(request), base_url=_base_url(request)
        ),
        f"A new link is on its way to {invitation.email}; the old one no longer works.",
    )


@require_POST
@manager_required
@recent_authentication_required
def member_role(request, pk):
    """Change a member's role (the service says who may give which role to whom)."""
    membership = _membership_or_404(request, pk)
    form = RoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose owner, admin or member.")
        return redirect("developer-members")
    role = form.cleaned_data["role"]
    return _act(
        request,
        lambda: services.membership_change_role(
            membership=membership, role=role, actor=Actor.for_request(request)
        ),
        f"{membership.user.email} is now {Membership.Role(role).label.lower()}.",
    )


@require_http_methods(["GET", "POST"])
@manager_required
@recent_authentication_required
def member_remove(request, pk):
    """Ask, then remove the member; they lose the organization on their next request."""
    membership = _membership_or_404(request, pk)
    if request.method == "GET":
        return render(request, "developer/member_remove.html", {"target": membership})
    return _act(
        request,
        lambda: services.membership_remove(membership=membership, actor=Actor.for_request(request)),
        f"{membership.user.email} is no longer a member.",
    )


@require_http_methods(["GET", "POST"])
@manager_required
@recent_authentication_required
def member_transfer(request, pk):
    """Ask, then make the member an owner and the acting owner an admin."""
    membership = _membership_or_404(request, pk)
    if request.method == "GET":
        return render(request, "developer/member_transfer.html", {"target": membership})
    return _act(
        request,
        lambda: services.organization_transfer_ownership(
            organization=request.organization, to=membership, actor=Actor.for_request(request)
        ),
        f"{membership.user.email} is now an owner; you are an admin.",
    )


# --- Following the emailed link ----------------------------------------------------------------

# Where the token of the link followed waits, once it has left the address.
INVITATION_SESSION_KEY = "accounts.invitation_token"


def _joined(request, membership):
    request.session.pop(INVITATION_SESSION_KEY, None)
    request.session[SESSION_KEY] = membership.organization_id
    messages.success(request, f"Welcome to {membership.organization.name}.")
    return redirect("developer-settings")


def _invalid(request, error):
    return render(request, "members/invitation_invalid.html", {"error": error}, status=410)


@require_GET
def invitation_open(request, token):
    """Follow the emailed link: keep its token in the session and redirect to the page without it.

    The token then appears in one request line only (which the log redaction covers), never
    in the address bar, the browser history or a ``Referer``; allauth does the same with
    password-reset keys. Following the link never uses it up.
    """
    try:
        selectors.invitation_by_token(token)
    except DomainError as exc:
        return _invalid(request, exc)
    request.session[INVITATION_SESSION_KEY] = token
    return redirect("invitation-accept")


@require_http_methods(["GET", "POST"])
def invitation_accept(request):
    """Join through the invitation whose link this browser followed.

    Signed in as the invited address: a button joins. Not signed in: a new person sets a
    password here (two-factor follows if the organization requires it); a person who has an
    account signs in first and comes back.
    """
    token = request.session.get(INVITATION_SESSION_KEY, "")
    try:
        invitation = selectors.invitation_by_token(token)
    except DomainError as exc:
        return _invalid(request, exc)
    context = {"invitation": invitation, "organization": invitation.organization}
    if request.user.is_authenticated:
        context["wrong_account"] = request.user.email.lower() != invitation.email.lower()
        if request.method == "POST" and not context["wrong_account"]:
            try:
                membership = services.invitation_accept(
                    token=token, user=request.user, actor=Actor.for_request(request)
                )
            except DomainError as exc:
                messages.error(request, exc.message)
            else:
                return _joined(request, membership)
        return render(request, "members/invitation_join.html", context)
    if User.objects.filter(email__iexact=invitation.email).exists():
        return render(request, "members/invitation_sign_in.html", context)
    form = NewAccountForm(request.POST if request.method == "POST" else None)
    if form.is_valid():
        try:
            membership = services.invitation_accept_new_account(
                token=token,
                password=form.cleaned_data["password1"],
                full_name=form.cleaned_data["full_name"],
                ip=client_ip(request),
            )
        except DomainError as exc:
            form.add_error("password1", exc.message)
        else:
            user = membership.user
            login(request, user, backend="allauth.account.auth_backends.AuthenticationBackend")
            # They have just chosen and typed their password: that counts as giving it.
            record_authentication(request, user, method="password", email=user.email)
            return _joined(request, membership)
    context["form"] = form
    status = 400 if form.is_bound else 200
    return render(request, "members/invitation_new_account.html", context, status=status)
