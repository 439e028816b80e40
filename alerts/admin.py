"""Admin for alert rules and their deliveries. Every change goes through the alert services."""

from django import forms
from django.contrib import admin, messages

from accounts.audit import Actor
from alerts.models import AlertDelivery, AlertRule
from alerts.services import (
    RULE_FIELDS,
    alertdelivery_retry,
    alertrule_clean,
    alertrule_create,
    alertrule_delete,
    alertrule_update,
)
from perceptis.admin import ReadOnlyAdminMixin
from perceptis.errors import InvalidRequest


class AlertRuleAdminForm(forms.ModelForm):
    class Meta:
        model = AlertRule
        fields = ("organization", *RULE_FIELDS)

    def clean(self):
        cleaned = super().clean()
        organization = cleaned.get("organization") or getattr(self.instance, "organization", None)
        if organization is None or self.errors:
            return cleaned
        try:
            alertrule_clean(organization=organization, **{f: cleaned.get(f) for f in RULE_FIELDS})
        except InvalidRequest as exc:
            for field, errors in (exc.fields or {}).items():
                self.add_error(field if field in self.fields else None, errors)
        return cleaned


@admin.register(AlertRule)
class AlertRuleAdmin(admin.ModelAdmin):
    form = AlertRuleAdminForm
    list_display = (
        "name",
        "organization",
        "metric",
        "threshold",
        "window_minutes",
        "channel",
        "api_key",
        "enabled",
        "created_at",
    )
    list_filter = ("enabled", "metric", "channel")
    search_fields = ("name", "organization__name", "organization__slug")
    list_select_related = ("organization", "api_key")
    raw_id_fields = ("organization", "api_key")
    readonly_fields = ("signing_secret_set", "legacy_signature", "created_by", "created_at")

    @admin.display(description="Signing secret")
    def signing_secret_set(self, obj):
        # The secret is the organization's to verify webhooks with; support never needs it.
        return "set" if obj and obj.signing_secret else "—"

    def get_readonly_fields(self, request, obj=None):
        if obj is not None:
            return (*self.readonly_fields, "organization")
        return self.readonly_fields

    def save_model(self, request, obj, form, change):
        data = {f: form.cleaned_data.get(f) for f in RULE_FIELDS}
        if change:
            alertrule_update(rule=obj, actor=Actor.for_request(request), **data)
        else:
            rule = alertrule_create(
                organization=form.cleaned_data["organization"],
                actor=Actor.for_request(request),
                **data,
            )
            obj.pk = rule.pk
        obj.refresh_from_db()
        obj._state.adding = False

    def delete_model(self, request, obj):
        alertrule_delete(rule=obj, actor=Actor.for_request(request))

    def delete_queryset(self, request, queryset):
        for rule in queryset:
            alertrule_delete(rule=rule, actor=Actor.for_request(request))


@admin.register(AlertDelivery)
class AlertDeliveryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "rule",
        "organization",
        "window_start",
        "status",
        "attempts",
        "last_response_status",
        "next_attempt_at",
        "delivered_at",
        "fired_at",
    )
    list_filter = ("status", "rule__channel", "rule__metric")
    search_fields = ("rule__name", "rule__organization__name", "message")
    list_select_related = ("rule__organization",)
    date_hierarchy = "fired_at"
    actions = ["retry_now"]

    @admin.display(description="Organization", ordering="rule__organization__name")
    def organization(self, obj):
        return obj.rule.organization

    def has_retry_permission(self, request):
        return request.user.has_perm("alerts.change_alertdelivery")

    @admin.action(description="Retry delivery now", permissions=["retry"])
    def retry_now(self, request, queryset):
        # Queued for an outbound worker: a web request never waits for a receiver.
        queued = 0
        for delivery in queryset.select_related("rule__organization"):
            delivery = alertdelivery_retry(delivery=delivery, actor=Actor.for_request(request))
            queued += delivery.status == AlertDelivery.Status.PENDING
        self.message_user(
            request, f"Queued {queued} of {len(queryset)} for delivery.", messages.INFO
        )
