"""The key table, creating a key, and the actions on one key."""

import math
from datetime import timedelta

from django.contrib import messages
from django.db.models import F
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.audit import Actor
from accounts.decorators import (
    key_manager_required,
    project_member_required,
    recent_authentication_required,
)
from accounts.projects.selectors import project_list
from apikeys.keys import policy, selectors, services
from apikeys.keys.errors import KeyNotFound
from apikeys.keys.forms import (
    KeyCreateForm,
    KeyEditForm,
    KeyFilterForm,
    KeyRenameForm,
    KeyRotateForm,
)
from apikeys.keys.models import ApiKey
from apikeys.keys.once import form_claim, form_token_for
from apikeys.keys.services.form_tokens import Claim
from perceptis.errors import DomainError
from perceptis.pagination import paginate


def key_or_404(request, key_id: str) -> ApiKey:
    """Return the current organization's key; any other organization's key is a 404, and so
    is, for a project admin, a key of a project they do not administer."""
    try:
        return selectors.apikey_get(
            organization=request.organization,
            key_id=key_id,
            projects=getattr(request, "project_scope", None),
        )
    except KeyNotFound:
        raise Http404("No such API key in this organization.") from None


# Sortable columns of the key table: query value -> model field.

SORTS = {
    "name": "name",
    "key_id": "key_id",
    "type": "type",
    "environment": "environment",
    "created": "created_at",
    "last_used": "last_used_at",
    "expires": "expires_at",
    "status": "status",
}
DEFAULT_SORT = "-created"


def _ordering(sort: str):
    descending = sort.startswith("-")
    field = F(SORTS[sort.lstrip("-")])
    # Keys never used or never expiring go last whichever way the column is sorted.
    return [
        field.desc(nulls_last=True) if descending else field.asc(nulls_last=True),
        "-id",
    ]


def _sort_columns(current: str) -> dict:
    columns = {}
    for name in SORTS:
        if current == name:
            columns[name] = {"next": f"-{name}", "aria": "ascending"}
        elif current == f"-{name}":
            columns[name] = {"next": name, "aria": "descending"}
        else:
            columns[name] = {"next": name, "aria": None}
    return columns


@require_GET
@project_member_required
def key_list(request):
    """The key table: sortable, filterable by status, type, environment and project, 50 to a
    page; a project admin's shows their projects' keys only."""
    filters = KeyFilterForm(request.GET, projects=_visible_projects(request))
    sort = request.GET.get("sort", DEFAULT_SORT)
    if sort.lstrip("-") not in SORTS:
        sort = DEFAULT_SORT
    now = timezone.now()
    keys = selectors.apikey_list(
        organization=request.organization,
        now=now,
        projects=request.project_scope,
        **filters.filters(),
    ).order_by(*_ordering(sort))
    page = paginate(request, keys)
    _mark_expiry(page, request.organization, now)
    return render(
        request,
        "developer/key_list.html",
        {
            "page": page,
            "filters": filters,
            "filtered": bool(filters.filters()),
            "columns": _sort_columns(sort),
            "now": now,
            "plan": selectors.plan_status(request.organization),
        },
    )


def _visible_projects(request) -> list:
    """Return the projects the person may pick (a project admin: theirs), open ones only."""
    projects = project_list(organization=request.organization, include_archived=False)
    if request.project_scope is not None:
        projects = projects.filter(project_id__in=request.project_scope)
    return list(projects)


# Keys expiring within this many days say so in the key table.
EXPIRY_NOTICE_DAYS = 7


def _mark_expiry(page, organization, now) -> None:
    """Give each usable key of the page ``expires_in_days`` (when it expires within a week,
    rounded up) and ``outside_policy`` (made before a key policy it breaks)."""
    page.object_list = list(page.object_list)
    for key in page.object_list:
        usable = key.is_usable(now)
        key.expires_in_days = None
        if usable and key.expires_at is not None:
            left = key.expires_at - now
            if left <= timedelta(days=EXPIRY_NOTICE_DAYS):
                key.expires_in_days = math.ceil(left.total_seconds() / 86400)
        key.outside_policy = usable and policy.outside(key, organization, now)


def _show_secret(request, *, key: ApiKey, plaintext: str, rotated: bool, grace=None):
    """Answer the POST itself with the plaintext: no redirect, session, message or cookie
    carries it, and ``no-store`` keeps it out of the browser's cache and history."""
    response = render(
        request,
        "developer/key_secret.html",
        {"key": key, "plaintext": plaintext, "rotated": rotated, "grace": grace},
    )
    add_never_cache_headers(response)
    return response


CREATE, ROTATE = "key-create", "key-rotate"  # the purposes of the one-time form tokens


def _already_shown(request, key_id: str):
    key = None
    if key_id:
        key = selectors.apikey_list(organization=request.organization).filter(key_id=key_id).first()
    response = render(request, "developer/key_already_shown.html", {"key": key}, status=409)
    add_never_cache_headers(response)
    return response


@require_http_methods(["GET", "POST"])
@key_manager_required
@recent_authentication_required
def key_create(request):
    plan = selectors.plan_status(request.organization)
    org_plan = request.organization.plan
    key_policy = policy.KeyPolicy.of(request.organization)
    if request.method == "POST":
        form = KeyCreateForm(
            request.POST,
            plan=org_plan,
            policy=key_policy,
            projects=_visible_projects(request),
            confined=request.project_scope is not None,
        )
        claim = form_claim(request, form, CREATE)
        if claim and claim.outcome is Claim.USED:
            return _already_shown(request, claim.key_id)
        if claim and claim.outcome is Claim.CLAIMED:
            try:
                key, plaintext = services.apikey_create(
                    organization=request.organization,
                    actor=Actor.for_request(request),
                    **form.service_kwargs(),
                )
            except DomainError as exc:
                services.form_token_release(nonce=claim.nonce)
                form.add_service_errors(exc)
            else:
                services.form_token_done(nonce=claim.nonce, key_id=key.key_id)
                return _show_secret(request, key=key, plaintext=plaintext, rotated=False)
    else:
        form = KeyCreateForm(
            initial={
                "nonce": form_token_for(request, CREATE),
                "project": request.GET.get("project", ""),
            },
            plan=org_plan,
            policy=key_policy,
            projects=_visible_projects(request),
            confined=request.project_scope is not None,
        )
    status = 400 if form.is_bound else 200
    return render(request, "developer/key_create.html", {"form": form, "plan": plan}, status=status)


def _detail(request, key: ApiKey, *, rename_form=None, status=200):
    context = {
        "key": key,
        "status": key.effective_status(),
        "rename_form": rename_form or KeyRenameForm(initial={"name": key.name}),
        "can_manage": request.membership.can_manage_keys or bool(request.project_scope),
        "outside_policy": key.status != ApiKey.Status.REVOKED
        and policy.outside(key, request.organization, timezone.now()),
    }
    return render(request, "developer/key_detail.html", context, status=status)


@require_GET
@project_member_required
def key_detail(request, key_id):
    return _detail(request, key_or_404(request, key_id))


@require_POST
@key_manager_required
def key_rename(request, key_id):
    key = key_or_404(request, key_id)
    form = KeyRenameForm(request.POST)
    if form.is_valid():
        try:
            services.apikey_update(
                key=key, name=form.cleaned_data["name"], actor=Actor.for_request(request)
            )
        except DomainError as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, "The key was renamed.")
            return redirect("developer-key", key_id=key.key_id)
    return _detail(request, key, rename_form=form, status=400)


def _status_change(request, key_id, *, service, done: str):
    """Apply ``service`` to the key; say ``done`` or the refusal, on the key's page."""
    key = key_or_404(request, key_id)
    try:
        service(key=key, actor=Actor.for_request(request))
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, done.format(name=key.name))
    return redirect("developer-key", key_id=key.key_id)


@require_http_methods(["GET", "POST"])
@key_manager_required
def key_disable(request, key_id):
    """Ask first, saying what stops working; then disable the key (it can be enabled again)."""
    key = key_or_404(request, key_id)
    if request.method == "POST":
        try:
            services.apikey_disable(key=key, actor=Actor.for_request(request))
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(
                request, f"“{key.name}” is disabled: its requests get 401 until you enable it."
            )
        return redirect("developer-key", key_id=key.key_id)
    return render(request, "developer/key_disable.html", {"key": key})


@require_http_methods(["GET", "POST"])
@key_manager_required
@recent_authentication_required
def key_edit(request, key_id):
    """Change a key's name, permissions, limits, allowlist and expiry: the API's rules
    (``apikey_update`` validates and audits), for owners and admins who signed in recently."""
    key = key_or_404(request, key_id)
    if key.status == ApiKey.Status.REVOKED:
        messages.error(request, "A revoked key cannot be changed.")
        return redirect("developer-key", key_id=key.key_id)
    plan = request.organization.plan
    form = KeyEditForm(
        request.POST or None,
        initial=KeyEditForm.initial_for(key),
        plan=plan,
        projects=_visible_projects(request),
    )
    if request.method == "POST" and form.is_valid():
        try:
            key = services.apikey_update(
                key=key, actor=Actor.for_request(request), **form.service_kwargs()
            )
        except DomainError as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, f"“{key.name}” saved.")
            return redirect("developer-key", key_id=key.key_id)
    status = 400 if form.is_bound else 200
    return render(request, "developer/key_edit.html", {"key": key, "form": form}, status=status)


@require_POST
@key_manager_required
def key_enable(request, key_id):
    return _status_change(
        request, key_id, service=services.apikey_enable, done="“{name}” is enabled again."
    )


@require_http_methods(["GET", "POST"])
@key_manager_required
def key_revoke(request, key_id):
    key = key_or_404(request, key_id)
    if request.method == "POST":
        services.apikey_revoke(key=key, actor=Actor.for_request(request))
        messages.success(request, f"“{key.name}” is revoked. Requests with it now get 401.")
        return redirect("developer-key", key_id=key.key_id)
    return render(request, "developer/key_revoke.html", {"key": key})


@require_http_methods(["GET", "POST"])
@key_manager_required
def key_delete(request, key_id):
    key = key_or_404(request, key_id)
    if request.method == "POST":
        try:
            services.apikey_delete(key=key, actor=Actor.for_request(request))
        except DomainError as exc:
            messages.error(request, exc.message)
            return redirect("developer-key", key_id=key.key_id)
        messages.success(request, f"“{key.name}” is deleted. Its usage and history are kept.")
        return redirect("developer-settings")
    return render(request, "developer/key_delete.html", {"key": key})


@require_http_methods(["GET", "POST"])
@key_manager_required
@recent_authentication_required
def key_rotate(request, key_id):
    key = key_or_404(request, key_id)
    if request.method == "POST":
        form = KeyRotateForm(request.POST)
        claim = form_claim(request, form, ROTATE, key.key_id)
        if claim and claim.outcome is Claim.USED:
            return _already_shown(request, claim.key_id)
        if claim and claim.outcome is Claim.CLAIMED:
            grace = form.cleaned_data["grace_period_seconds"]
            try:
                key, plaintext = services.apikey_rotate(
                    key=key, grace_period_seconds=grace, actor=Actor.for_request(request)
                )
            except DomainError as exc:
                services.form_token_release(nonce=claim.nonce)
                form.add_service_errors(exc)
            else:
                services.form_token_done(nonce=claim.nonce, key_id=key.key_id)
                until = timezone.now() + timedelta(seconds=grace) if grace else None
                return _show_secret(
                    request, key=key, plaintext=plaintext, rotated=True, grace=until
                )
        status = 400
    else:
        form = KeyRotateForm(initial={"nonce": form_token_for(request, ROTATE, key.key_id)})
        status = 200
    return render(request, "developer/key_rotate.html", {"key": key, "form": form}, status=status)
