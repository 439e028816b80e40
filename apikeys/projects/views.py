"""Developer Settings: the projects, each with its keys, usage, spend and settings.

Owners and admins see and manage every project; members read every project; a project admin
sees only their projects (any other project's page is 404) and manages their keys.
"""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from accounts.audit import Actor
from accounts.decorators import (
    manager_required,
    project_member_required,
    recent_authentication_required,
)
from accounts.errors import ProjectNotFound
from accounts.models import Membership
from accounts.projects import selectors as project_selectors
from accounts.projects import services as project_services
from apikeys.keys.selectors import apikey_list
from apikeys.projects.forms import ProjectAdminForm, ProjectForm
from apikeys.usage.selectors import USAGE_WINDOWS, usage_summary
from billing.periods import spend_periods
from billing.selectors import ledger_lines
from perceptis.errors import DomainError
from perceptis.pagination import paginate


def _visible(request):
    projects = project_selectors.project_list(organization=request.organization)
    if request.project_scope is not None:
        projects = projects.filter(project_id__in=request.project_scope)
    return projects


def project_or_404(request, project_id: str):
    """Return a project the person may see; another organization's or, for a project admin,
    another project's is a 404, exactly as one that does not exist."""
    try:
        project = project_selectors.project_get(
            organization=request.organization, project_id=project_id
        )
    except ProjectNotFound:
        raise Http404("No such project.") from None
    if request.project_scope is not None and project.project_id not in request.project_scope:
        raise Http404("No such project.")
    return project


@require_GET
@project_member_required
def project_index(request):
    return _index(request)


def _index(request, *, form=None, status=200):
    """Every visible project with this month's spend and its limit; the total sums them."""
    _, month = spend_periods(timezone.now())
    projects = list(_visible(request))
    for project in projects:
        project.month_spent = project.spent_this_month(month)
        project.key_count = (
            apikey_list(organization=request.organization, project=project.project_id)
            .exclude(status="revoked")
            .count()
        )
    context = {
        "projects": projects,
        "total": sum(p.month_spent for p in projects),
        "can_manage": request.membership.can_manage_keys,
        "form": form or ProjectForm(),
        "plan": request.organization.plan,
    }
    return render(request, "developer/projects.html", context, status=status)


@require_POST
@manager_required
def project_new(request):
    form = ProjectForm(request.POST)
    if form.is_valid():
        try:
            project = project_services.project_create(
                organization=request.organization,
                actor=Actor.for_request(request),
                **form.cleaned_data,
            )
        except DomainError as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, f"Project “{project.name}” created.")
            return redirect("developer-project", project_id=project.project_id)
    return _index(request, form=form, status=400)


def _detail(request, project, *, form=None, admin_form=None, status=200):
    now = timezone.now()
    scope = frozenset({project.project_id})
    is_manager = request.membership.can_manage_keys
    members = Membership.objects.filter(
        organization=request.organization, role=Membership.Role.MEMBER
    ).select_related("user")
    context = {
        "project": project,
        "keys": apikey_list(organization=request.organization, now=now, projects=scope),
        "usage": {
            window: usage_summary(
                organization=request.organization, since=now - length, projects=scope
            )
            for window, length in USAGE_WINDOWS.items()
            if window != "90d"
        },
        "month_spent": project.spent_in_month_of(now),
        "ledger": paginate(
            request,
            ledger_lines(
                organization=request.organization, project=project.project_id
            ).select_related("job"),
        ),
        "can_manage": is_manager,
        "can_manage_keys": is_manager or bool(request.project_scope),
        "form": form
        or ProjectForm(
            initial={
                "name": project.name,
                "monthly_spend_limit": project.monthly_spend_limit,
                "rate_limit_ceiling": project.rate_limit_ceiling,
            }
        ),
        "admins": project_selectors.project_admins(project=project) if is_manager else [],
        "admin_form": admin_form or ProjectAdminForm(members=members),
    }
    return render(request, "developer/project_detail.html", context, status=status)


@require_GET
@project_member_required
def project_detail(request, project_id):
    return _detail(request, project_or_404(request, project_id))


@require_POST
@manager_required
@recent_authentication_required
def project_settings(request, project_id):
    project = project_or_404(request, project_id)
    form = ProjectForm(request.POST)
    if form.is_valid():
        try:
            project_services.project_update(
                project=project, actor=Actor.for_request(request), **form.cleaned_data
            )
        except DomainError as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, "The project's settings were saved.")
            return redirect("developer-project", project_id=project.project_id)
    return _detail(request, project, form=form, status=400)


@require_POST
@manager_required
def project_archive(request, project_id):
    project = project_or_404(request, project_id)
    try:
        project_services.project_archive(project=project, actor=Actor.for_request(request))
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Project “{project.name}” is archived.")
    return redirect("developer-project", project_id=project.project_id)


def _member(request, membership_id) -> Membership:
    membership = (
        Membership.objects.filter(organization=request.organization, pk=membership_id)
        .select_related("user")
        .first()
    )
    if membership is None:
        raise Http404("No such member.")
    return membership


@require_POST
@manager_required
@recent_authentication_required
def project_admin_grant(request, project_id):
    project = project_or_404(request, project_id)
    members = Membership.objects.filter(
        organization=request.organization, role=Membership.Role.MEMBER
    ).select_related("user")
    form = ProjectAdminForm(request.POST, members=members)
    if form.is_valid():
        membership = _member(request, form.cleaned_data["membership"])
        try:
            project_services.project_admin_grant(
                project=project, membership=membership, actor=Actor.for_request(request)
            )
        except DomainError as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, f"{membership.user.email} is now a project admin.")
            return redirect("developer-project", project_id=project.project_id)
    return _detail(request, project, admin_form=form, status=400)


@require_POST
@manager_required
def project_admin_revoke(request, project_id, membership_id):
    project = project_or_404(request, project_id)
    membership = _member(request, membership_id)
    project_services.project_admin_revoke(
        project=project, membership=membership, actor=Actor.for_request(request)
    )
    messages.success(request, f"{membership.user.email} is no longer a project admin.")
    return redirect("developer-project", project_id=project.project_id)
