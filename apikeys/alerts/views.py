"""Developer Settings pages for alert rules: list, create, edit, delete.

Everyone in the organization sees the rules; only owners and admins change them.
"""

from urllib.parse import urlsplit

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_http_methods

from accounts.audit import Actor
from accounts.decorators import manager_required, member_required
from apikeys.alerts.forms import AlertRuleForm
from apikeys.alerts.models import AlertRule
from apikeys.alerts.selectors import alertdelivery_recent, alertrule_get, alertrule_list
from apikeys.alerts.services import (
    RULE_FIELDS,
    alertrule_create,
    alertrule_delete,
    alertrule_update,
)
from perceptis.errors import InvalidRequest


def masked_destination(rule: AlertRule) -> str:
    """Return the destination to show in a list: a URL's path can be a credential (Slack)."""
    if rule.channel == AlertRule.Channel.EMAIL:
        return rule.destination
    parts = urlsplit(rule.destination)
    return f"{parts.scheme}://{parts.netloc}/…"


def _show_signing_secret(request, rule: AlertRule):
    """Answer the POST that made or replaced the secret with it, once, like a new API key:
    ``no-store``, never through a redirect, the session or a message. Later pages only say
    that a secret is set."""
    response = render(request, "developer/alerts/secret.html", {"rule": rule})
    add_never_cache_headers(response)
    return response


@member_required
def alert_list(request):
    organization = request.organization
    rules = list(alertrule_list(organization=organization))
    for rule in rules:
        rule.shown_destination = masked_destination(rule)
    return render(
        request,
        "developer/alerts/list.html",
        {"rules": rules, "can_manage": request.membership.can_manage_keys},
    )


@manager_required
@require_http_methods(["GET", "POST"])
def alert_create(request):
    organization = request.organization
    form = AlertRuleForm(request.POST or None, organization=organization)
    if request.method == "POST" and form.is_valid():
        try:
            rule = alertrule_create(
                organization=organization, actor=Actor.for_request(request), **form.cleaned_data
            )
        except InvalidRequest as exc:
            form.add_service_errors(exc)
        else:
            if rule.signing_secret:
                return _show_signing_secret(request, rule)
            messages.success(request, f"Alert rule “{rule.name}” created.")
            return redirect("developer-alert-edit", pk=rule.pk)
    return render(request, "developer/alerts/form.html", {"form": form, "rule": None})


@manager_required
@require_http_methods(["GET", "POST"])
def alert_edit(request, pk: int):
    organization = request.organization
    rule = alertrule_get(organization=organization, pk=pk)
    initial = {f: getattr(rule, f) for f in RULE_FIELDS}
    initial["api_key"] = rule.api_key.key_id if rule.api_key else ""
    form = AlertRuleForm(request.POST or None, initial=initial, organization=organization)
    if request.method == "POST" and form.is_valid():
        previous_secret = rule.signing_secret
        try:
            rule = alertrule_update(
                rule=rule,
                actor=Actor.for_request(request),
                rotate_signing_secret=request.POST.get("rotate_signing_secret") == "on",
                **form.cleaned_data,
            )
        except InvalidRequest as exc:
            form.add_service_errors(exc)
        else:
            if rule.signing_secret and rule.signing_secret != previous_secret:
                return _show_signing_secret(request, rule)
            messages.success(request, f"Alert rule “{rule.name}” saved.")
            return redirect("developer-alerts")
    return render(
        request,
        "developer/alerts/form.html",
        {"form": form, "rule": rule, "deliveries": alertdelivery_recent(rule=rule)},
    )


@manager_required
@require_http_methods(["GET", "POST"])
def alert_delete(request, pk: int):
    organization = request.organization
    rule = alertrule_get(organization=organization, pk=pk)
    if request.method == "POST":
        alertrule_delete(rule=rule, actor=Actor.for_request(request))
        messages.success(request, f"Alert rule “{rule.name}” deleted.")
        return redirect("developer-alerts")
    return render(request, "developer/alerts/delete.html", {"rule": rule})
