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
from alerts.forms import AlertRuleForm
from alerts.models import AlertRule
from alerts.selectors import alertdelivery_recent, alertrule_get, alertrule_list
from alerts.services import (
    RULE_FIELDS,
    alertrule_create,
    alertrule_delete,
    alertrule_update,
)
from apikeys.keys.once import form_claim, form_token_for
from apikeys.keys.services.form_tokens import Claim, form_token_done, form_token_release
from perceptis.errors import InvalidRequest
from webhooks.models import outbox_state


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
        if rule.latest_status:
            rule.latest_state = outbox_state(rule.latest_status, rule.latest_attempts)
    return render(
        request,
        "developer/alerts/list.html",
        {"rules": rules, "can_manage": request.membership.can_manage_keys},
    )


# The purposes of the one-time form tokens: a form that can show a signing secret acts once.
CREATE, SECRET = "alert-create", "alert-secret"


def _already_sent(request, pk: str):
    """Answer a form sent a second time: nothing is done again, no secret is shown again."""
    messages.warning(
        request, "This form was already sent; nothing was changed again and no secret is shown."
    )
    if pk and alertrule_list(organization=request.organization).filter(pk=pk).exists():
        return redirect("developer-alert-edit", pk=pk)
    return redirect("developer-alerts")


def _save_once(claim, form, save) -> AlertRule | None:
    """Run ``save()`` for a form whose token this submission claimed; return the rule.

    A refusal gives the token back (the corrected form can be sent) and shows the errors.
    """
    try:
        rule = save()
    except InvalidRequest as exc:
        form_token_release(nonce=claim.nonce)
        form.add_service_errors(exc)
        return None
    form_token_done(nonce=claim.nonce, key_id=str(rule.pk))
    return rule


@manager_required
@require_http_methods(["GET", "POST"])
def alert_create(request):
    organization = request.organization
    if request.method == "GET":
        form = AlertRuleForm(
            initial={"nonce": form_token_for(request, CREATE)}, organization=organization
        )
        return render(request, "developer/alerts/form.html", {"form": form, "rule": None})
    form = AlertRuleForm(request.POST, organization=organization)
    claim = form_claim(request, form, CREATE)
    if claim and claim.outcome is Claim.USED:
        return _already_sent(request, claim.key_id)
    if claim and claim.outcome is Claim.CLAIMED:
        rule = _save_once(
            claim,
            form,
            lambda: alertrule_create(
                organization=organization, actor=Actor.for_request(request), **form.service_kwargs()
            ),
        )
        if rule and rule.signing_secret:
            return _show_signing_secret(request, rule)
        if rule:
            messages.success(request, f"Alert rule “{rule.name}” created.")
            return redirect("developer-alert-edit", pk=rule.pk)
    return render(request, "developer/alerts/form.html", {"form": form, "rule": None})


def _edit_page(request, form, rule: AlertRule, status=200):
    context = {"form": form, "rule": rule, "deliveries": alertdelivery_recent(rule=rule)}
    return render(request, "developer/alerts/form.html", context, status=status)


@manager_required
@require_http_methods(["GET", "POST"])
def alert_edit(request, pk: int):
    organization = request.organization
    rule = alertrule_get(organization=organization, pk=pk)
    if request.method == "GET":
        initial = {f: getattr(rule, f) for f in RULE_FIELDS}
        initial["api_key"] = rule.api_key.key_id if rule.api_key else ""
        initial["nonce"] = form_token_for(request, SECRET, str(rule.pk))
        return _edit_page(request, AlertRuleForm(initial=initial, organization=organization), rule)
    form = AlertRuleForm(request.POST, organization=organization)
    claim = form_claim(request, form, SECRET, str(rule.pk))
    if claim and claim.outcome is Claim.USED:
        return _already_sent(request, str(rule.pk))
    if claim and claim.outcome is Claim.CLAIMED:
        previous_secret = rule.signing_secret
        saved = _save_once(
            claim,
            form,
            lambda: alertrule_update(
                rule=rule,
                actor=Actor.for_request(request),
                rotate_signing_secret=request.POST.get("rotate_signing_secret") == "on",
                adopt_standard_signature=request.POST.get("adopt_standard_signature") == "on",
                **form.service_kwargs(),
            ),
        )
        if saved and saved.signing_secret and saved.signing_secret != previous_secret:
            return _show_signing_secret(request, saved)
        if saved:
            messages.success(request, f"Alert rule “{saved.name}” saved.")
            return redirect("developer-alerts")
    return _edit_page(request, form, rule)


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
