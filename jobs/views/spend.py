"""Developer Settings: what the organization and each key spent, the limits, the ledger."""

import csv
import re

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from accounts.audit import Actor
from accounts.decorators import (
    manager_required,
    member_required,
    project_member_required,
    recent_authentication_required,
)
from accounts.models import Membership
from apikeys.keys.models import ApiKey
from apikeys.keys.services import apikey_update
from apikeys.keys.views import key_or_404
from billing.models import CreditAccount
from billing.selectors import credits_balance, credits_held, ledger_lines
from billing.services import credits_spend_limit_set
from jobs.forms import KeySpendLimitForm, OrgSpendLimitForm
from jobs.selectors import spend_by_key, spend_for_organization, spend_period_start
from perceptis.errors import DomainError
from perceptis.pagination import paginate


def _is_owner(request) -> bool:
    return request.membership.role == Membership.Role.OWNER


def _page(request, *, key_forms=None, org_form=None, status=200):
    organization = request.organization
    now = timezone.now()
    keys = list(
        ApiKey.objects.filter(organization=organization, deleted_at__isnull=True)
        .exclude(status=ApiKey.Status.REVOKED)
        .order_by("name", "id")
    )
    spent = spend_by_key(keys=keys, now=now)
    key_forms = key_forms or {}
    rows = [
        {
            "key": key,
            "spent": spent[key.pk],
            "form": key_forms.get(key.pk)
            or KeySpendLimitForm(
                initial={
                    "spend_limit_credits": key.spend_limit_credits,
                    "spend_limit_period": key.spend_limit_period,
                },
                prefix=key.key_id,
            ),
        }
        for key in keys
    ]
    account = CreditAccount.objects.filter(organization=organization).first()
    limit = account.monthly_spend_limit if account else None
    month_start = spend_period_start(ApiKey.SpendPeriod.MONTH, now)
    context = {
        "rows": rows,
        "balance": credits_balance(organization=organization),
        "held": credits_held(organization=organization),
        "month_spent": spend_for_organization(organization=organization, since=month_start),
        "monthly_limit": limit,
        "org_form": org_form or OrgSpendLimitForm(initial={"monthly_spend_limit": limit}),
        "is_owner": _is_owner(request),
        "can_manage": request.membership.can_manage_keys,
        "page": paginate(request, ledger_lines(organization=organization).select_related("job")),
    }
    return render(request, "developer/spend.html", context, status=status)


@require_GET
@member_required
def spend(request):
    return _page(request)


@require_POST
@manager_required
@recent_authentication_required
def key_spend_limit(request, key_id):
    key = key_or_404(request, key_id)
    form = KeySpendLimitForm(request.POST, prefix=key.key_id)
    if form.is_valid():
        try:
            apikey_update(
                key=key,
                actor=Actor.for_request(request),
                spend_limit_credits=form.cleaned_data["spend_limit_credits"],
                spend_limit_period=form.cleaned_data["spend_limit_period"],
            )
        except DomainError as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, f"The spend limit of {key.name} was saved.")
            return redirect("developer-spend")
    return _page(request, key_forms={key.pk: form}, status=400)


@require_POST
@member_required
@recent_authentication_required
def org_spend_limit(request):
    if not _is_owner(request):
        raise PermissionDenied("Only owners set the organization's spend limit.")
    form = OrgSpendLimitForm(request.POST)
    if form.is_valid():
        try:
            credits_spend_limit_set(
                organization=request.organization,
                monthly_limit=form.cleaned_data["monthly_spend_limit"],
                actor=Actor.for_request(request),
            )
        except DomainError as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, "The organization's monthly spend limit was saved.")
            return redirect("developer-spend")
    return _page(request, org_form=form, status=400)


_PROJECT_ID = re.compile(r"proj_[A-Za-z0-9]{1,35}")


class CsvEcho:
    def write(self, value):
        return value


def csv_cell(value) -> str:
    # A spreadsheet runs a cell that starts with = + - @ as a formula: quote text cells.
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _csv_rows(lines):
    yield [
        "time_utc",
        "entry",
        "job_id",
        "model",
        "input_tokens",
        "output_tokens",
        "net_credits",
        "balance_after",
        "reason",
    ]
    for line in lines.iterator(chunk_size=500):
        job = line.job
        entry = "job" if line.job_ref else line.kind
        yield [
            line.created_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            entry,
            csv_cell(line.job_ref),
            csv_cell(job.model if job else ""),
            job.input_tokens if job and job.input_tokens is not None else "",
            job.output_tokens if job and job.output_tokens is not None else "",
            line.net,
            line.balance_after,
            csv_cell(line.reason),
        ]


@require_GET
@project_member_required
def ledger_csv(request):
    """Download the folded ledger (one line per finished job) as CSV; ``?project=proj_…``
    keeps one project's jobs. A project admin gets only their projects' (another is 404)."""
    writer = csv.writer(CsvEcho())
    project = request.GET.get("project") or None
    scope = request.project_scope
    if scope is not None and project not in scope:
        raise Http404("No such project.")
    lines = ledger_lines(organization=request.organization, project=project).select_related("job")
    response = StreamingHttpResponse(
        (writer.writerow(row) for row in _csv_rows(lines)), content_type="text/csv"
    )
    stamp = timezone.now().strftime("%Y%m%d")
    # Only a project id's own characters reach the header.
    suffix = f"-{project}" if project and _PROJECT_ID.fullmatch(project) else ""
    response["Content-Disposition"] = (
        f'attachment; filename="ledger-{request.organization.slug}{suffix}-{stamp}.csv"'
    )
    return response
