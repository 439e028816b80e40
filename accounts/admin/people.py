"""People and the audit log in admin."""

import json

from django.contrib import admin
from django.contrib.auth import forms as auth_forms
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.utils.html import format_html

from accounts.models import AuditEvent, User
from perceptis.admin import NoSecretLookupsMixin, ReadOnlyAdminMixin


class InputFilter(admin.SimpleListFilter):
    """A list filter with a text box, for relations too large for a list of links."""

    template = "admin/input_filter.html"
    lookup = ""

    def lookups(self, request, model_admin):
        # Must be non-empty for Django to show the filter; the template draws a text box.
        return [("", "")]

    def queryset(self, request, queryset):
        value = (self.value() or "").strip()
        if not value:
            return queryset
        return queryset.filter(**{self.lookup: value})

    def choices(self, changelist):
        # The template renders a GET form that keeps the other filters, search and ordering.
        others = [(k, v) for k, v in changelist.params.items() if k != self.parameter_name]
        yield {"value": self.value() or "", "others": others, "selected": bool(self.value())}


class OrganizationSlugFilter(InputFilter):
    title = "organization (slug)"
    parameter_name = "org"
    lookup = "organization__slug"


class ActorFilter(InputFilter):
    title = "actor (email or label)"
    parameter_name = "actor"
    lookup = "actor_label__iexact"


class UserCreationForm(auth_forms.AdminUserCreationForm):
    class Meta:
        model = User
        fields = ("email",)


class UserChangeForm(auth_forms.UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    """Users sign in with their email; otherwise Django's own user admin (password rules too)."""

    form = UserChangeForm
    add_form = UserCreationForm
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        ("Personal info", {"fields": ["full_name"]}),
        (
            "Permissions",
            {"fields": ["is_active", "is_staff", "is_superuser", "groups", "user_permissions"]},
        ),
        ("Dates", {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [
        (
            None,
            {
                "classes": ["wide"],
                "fields": ["email", "usable_password", "password1", "password2"],
            },
        )
    ]
    list_display = ["email", "full_name", "is_staff", "is_superuser", "is_active", "date_joined"]
    list_filter = ["is_staff", "is_superuser", "is_active", "groups"]
    search_fields = ["email", "full_name"]
    ordering = ["email"]
    inlines = []
    show_full_result_count = False


# --- Audit log ----------------------------------------------------------------------------


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdminMixin, NoSecretLookupsMixin, admin.ModelAdmin):
    """The audit log, read-only. No one deletes an audit event, superusers included."""

    list_display = [
        "created_at",
        "organization",
        "actor_label",
        "actor_type",
        "action",
        "target_label",
        "ip_address",
    ]
    list_select_related = ["organization"]
    list_filter = [OrganizationSlugFilter, ActorFilter, "action", "actor_type", "created_at"]
    search_fields = ["=target_id", "target_label", "actor_label"]
    search_help_text = "Target id (exact, e.g. a Key ID or Job ID), target or actor."
    show_full_result_count = False
    list_per_page = 100
    fields = [
        "created_at",
        "organization",
        "action",
        "actor_type",
        "actor_label",
        "actor_user",
        "actor_key",
        "ip_address",
        "target_type",
        "target_id",
        "target_label",
        "metadata_display",
    ]
    readonly_fields = fields

    @admin.display(description="metadata")
    def metadata_display(self, obj):
        if not obj.metadata:
            return "—"
        return format_html("<pre>{}</pre>", json.dumps(obj.metadata, indent=2, sort_keys=True))

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("organization")
