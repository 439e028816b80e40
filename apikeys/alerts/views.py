"""Developer Settings pages for alert rules: list, create, edit, delete.

Everyone in the organization sees the rules; only owners and admins change them.
"""

from urllib.parse import urlsplit

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from accounts.audit import Actor
from apikeys.forms import ServiceErrorsMixin
from apikeys.models import AlertRule
from apikeys.selectors import apikey_list
from apikeys.selectors_alerts import alertdelivery_recent, alertrule_get, alertrule_list
from apikeys.services import alertrule_create, alertrule_delete, alertrule_update
from apikeys.services.alerts import RULE_FIELDS
from perceptis.errors import InvalidRequest


class AlertRuleForm(ServiceErrorsMixin, forms.Form):
    name = forms.CharField(label="Name", max_length=100)
    metric = forms.ChoiceField(label="Alert when", choices=AlertRule.Metric.choices)
    threshold = forms.FloatField(
        label="Threshold",
        help_text="Requests, percent, milliseconds, credits or days, as the metric says.",
    )
    window_minutes = forms.IntegerField(
        label="Window (minutes)",
        initial=60,
        help_text="A multiple of 60. Each rule fires at most once per window; "
        "key expiry warnings once a day.",
    )
    api_key = forms.ChoiceField(label="API key", required=False)
    channel = forms.ChoiceField(label="Deliver by", choices=AlertRule.Channel.choices)
    destination = forms.CharField(
        label="Destination",
        max_length=500,
        help_text="An email address, or the https URL of your webhook or Slack incoming webhook.",
    )
    enabled = forms.BooleanField(label="Enabled", required=False, initial=True)

    def __init__(self, *args, organization, **kwargs):
        super().__init__(*args, **kwargs)
        keys = apikey_list(organization=organization).order_by("name")
        self.fields["api_key"].choices = [("", "All keys")] + [
            (k.key_id, f"{k.name} ({k.key_id})") for k in keys
        ]


def _organization(request):
    if request.organization is None:
        raise PermissionDenied("You do not belong to an organization.")
    return request.organization


def _require_manager(request):
    organization = _organization(request)
    if not request.membership.can_manage_keys:
        raise PermissionDenied("Only owners and admins can change alert rules.")
    return organization


def masked_destination(rule: AlertRule) -> str:
    """Return the destination to show in a list: a URL's path can be a credential (Slack)."""
    if rule.channel == AlertRule.Channel.EMAIL:
        return rule.destination
    parts = urlsplit(rule.destination)
    return f"{parts.scheme}://{parts.netloc}/…"


@login_required
def alert_list(request):
    organization = _organization(request)
    rules = list(alertrule_list(organization=organization))
    for rule in rules:
        rule.shown_destination = masked_destination(rule)
    return render(
        request,
        "developer/alerts/list.html",
        {"rules": rules, "can_manage": request.membership.can_manage_keys},
    )


@login_required
@require_http_methods(["GET", "POST"])
def alert_create(request):
    organization = _require_manager(request)
    form = AlertRuleForm(request.POST or None, organization=organization)
    if request.method == "POST" and form.is_valid():
        try:
            rule = alertrule_create(
                organization=organization, actor=Actor.for_request(request), **form.cleaned_data
            )
        except InvalidRequest as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, f"Alert rule “{rule.name}” created.")
            return redirect("developer-alert-edit", pk=rule.pk)
    return render(request, "developer/alerts/form.html", {"form": form, "rule": None})


@login_required
@require_http_methods(["GET", "POST"])
def alert_edit(request, pk: int):
    organization = _require_manager(request)
    rule = alertrule_get(organization=organization, pk=pk)
    initial = {f: getattr(rule, f) for f in RULE_FIELDS}
    initial["api_key"] = rule.api_key.key_id if rule.api_key else ""
    form = AlertRuleForm(request.POST or None, initial=initial, organization=organization)
    if request.method == "POST" and form.is_valid():
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
            messages.success(request, f"Alert rule “{rule.name}” saved.")
            return redirect("developer-alerts")
    return render(
        request,
        "developer/alerts/form.html",
        {"form": form, "rule": rule, "deliveries": alertdelivery_recent(rule=rule)},
    )


@login_required
@require_http_methods(["GET", "POST"])
def alert_delete(request, pk: int):
    organization = _require_manager(request)
    rule = alertrule_get(organization=organization, pk=pk)
    if request.method == "POST":
        alertrule_delete(rule=rule, actor=Actor.for_request(request))
        messages.success(request, f"Alert rule “{rule.name}” deleted.")
        return redirect("developer-alerts")
    return render(request, "developer/alerts/delete.html", {"rule": rule})
