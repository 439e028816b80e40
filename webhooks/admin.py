"""Admin for webhook endpoints and deliveries: read-only, for support; never a signing secret."""

from django.contrib import admin

from perceptis.admin import ReadOnlyAdminMixin
from webhooks.models import WebhookDelivery, WebhookEndpoint


class _NoSecretLookupsMixin:
    def lookup_allowed(self, lookup, value, request=None):
        if "secret" in lookup:
            return False
        return super().lookup_allowed(lookup, value, request)


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(_NoSecretLookupsMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "public_id",
        "organization",
        "project",
        "environment",
        "url",
        "enabled",
        "created_at",
    )
    list_filter = ("environment", "enabled")
    search_fields = (
        "=public_id",
        "organization__name",
        "=organization__slug",
        "=project__project_id",
        "url",
    )
    list_select_related = ("organization", "project")
    # The secrets are the organization's to verify deliveries with; support never needs them.
    fields = (
        "public_id",
        "organization",
        "project",
        "environment",
        "url",
        "description",
        "events",
        "enabled",
        "secret_set",
        "created_by",
        "created_at",
        "updated_at",
    )
    readonly_fields = fields

    @admin.display(description="Signing secret")
    def secret_set(self, obj):
        rotating = obj.previous_secret_expires_at and obj.previous_secret
        return "set (previous one still signing)" if rotating else "set"


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(_NoSecretLookupsMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "public_id",
        "endpoint",
        "organization",
        "event_type",
        "status",
        "attempts",
        "last_response_status",
        "last_attempt_at",
        "next_attempt_at",
        "created_at",
    )
    list_filter = ("status", "event_type")
    search_fields = ("=public_id", "=endpoint__public_id", "endpoint__organization__name")
    list_select_related = ("endpoint__organization",)
    date_hierarchy = "created_at"
    fields = (
        "public_id",
        "endpoint",
        "event_type",
        "payload",
        "status",
        "attempts",
        "last_attempt_at",
        "last_response_status",
        "last_duration_ms",
        "last_error",
        "next_attempt_at",
        "delivered_at",
        "created_at",
    )
    readonly_fields = fields

    @admin.display(description="Organization", ordering="endpoint__organization__name")
    def organization(self, obj):
        return obj.endpoint.organization
