"""Django admin for support staff: organizations, plans, people and the audit log.

Support staff belong to the ``Support`` group (``accounts/migrations/0004_support_group.py``),
which holds exactly the permissions the support tasks need; superusers have every permission.
Changes go through the services with the staff user as the audited actor: a plan change is
``organization_set_plan``, credits go through the form at ``<organization>/credits/``. Nothing is
deleted here: organizations, plans and audit events are protected, for superusers too.
"""

import json

from django import forms
from django.contrib import admin
from django.contrib.auth import forms as auth_forms
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import Count, IntegerField, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from accounts.audit import Actor
from accounts.models import AuditEvent, Membership, Organization, Plan, User
from accounts.services import organization_set_plan
from apikeys.admin import NoSecretLookupsMixin
from apikeys.models import ApiKey
from billing.admin import CREDITS_PERMISSION, organization_credits_view
from billing.selectors import credits_ledger_sum
from perceptis.admin import ReadOnlyAdminMixin

admin.site.site_header = "Perceptis support"
admin.site.site_title = "Perceptis support"
admin.site.index_title = "Support"


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


# --- Organizations ------------------------------------------------------------------------


class MembershipInline(ReadOnlyAdminMixin, admin.TabularInline):
    """Members and roles, read-only: roles change through the services, not a raw formset."""

    model = Membership
    fields = ["user_email", "role", "created_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("user")

    @admin.display(description="user")
    def user_email(self, obj):
        return obj.user.email


class OrganizationForm(forms.ModelForm):
    class Meta:
        model = Organization
        fields = ["plan"]
        help_texts = {
            "plan": "Changing the plan is audited; API eligibility changes on the next request."
        }


def _active_keys_subquery():
    counts = (
        ApiKey.objects.filter(organization=OuterRef("pk"), status=ApiKey.Status.ACTIVE)
        .order_by()
        .values("organization")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(counts, output_field=IntegerField()), Value(0))


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    form = OrganizationForm
    list_display = ["name", "slug", "plan", "balance", "active_keys", "api_eligible", "created_at"]
    list_select_related = ["plan"]
    list_filter = ["plan", "plan__api_access"]
    search_fields = ["name", "slug", "memberships__user__email"]
    search_help_text = "Organization name, slug or a member's email."
    show_full_result_count = False
    list_per_page = 50
    inlines = [MembershipInline]
    fields = [
        "name",
        "slug",
        "plan",
        "api_eligible",
        "ledger_balance",
        "active_keys",
        "created_at",
        "related_links",
    ]
    readonly_fields = [
        "name",
        "slug",
        "api_eligible",
        "ledger_balance",
        "active_keys",
        "created_at",
        "related_links",
    ]

    def get_queryset(self, request):
        # Balances and key counts come from the query itself: no per-row queries in the list.
        return (
            super()
            .get_queryset(request)
            .select_related("plan")
            .annotate(
                balance=Coalesce("credit_account__balance", Value(0)),
                active_keys=_active_keys_subquery(),
            )
        )

    @admin.display(description="credits", ordering="balance")
    def balance(self, obj):
        return obj.balance

    @admin.display(description="credit balance (ledger sum)")
    def ledger_balance(self, obj):
        return credits_ledger_sum(organization=obj)

    @admin.display(description="active keys", ordering="active_keys")
    def active_keys(self, obj):
        return obj.active_keys

    @admin.display(description="API access", boolean=True, ordering="plan__api_access")
    def api_eligible(self, obj):
        return obj.plan.api_access

    @admin.display(description="see also")
    def related_links(self, obj):
        links = [
            ("admin:apikeys_apikey_changelist", "API keys"),
            ("admin:jobs_job_changelist", "jobs"),
            ("admin:billing_ledgerentry_changelist", "ledger"),
            ("admin:accounts_auditevent_changelist", "audit log"),
        ]
        params = {
            "admin:apikeys_apikey_changelist": f"?q={obj.slug}",
            "admin:jobs_job_changelist": f"?q={obj.slug}",
            "admin:billing_ledgerentry_changelist": f"?q={obj.slug}",
            "admin:accounts_auditevent_changelist": f"?org={obj.slug}",
        }
        return format_html_join(
            ", ",
            '<a href="{}{}">{}</a>',
            ((reverse(name), params[name], label) for name, label in links),
        )

    def has_add_permission(self, request):
        # Organizations are created with their credit account by ``create_org``.
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        if change and "plan" in form.changed_data:
            current = Organization.objects.select_related("plan").get(pk=obj.pk)
            organization_set_plan(
                organization=current, plan_code=obj.plan.code, actor=Actor.for_request(request)
            )

    def get_urls(self):
        return [
            path(
                "<path:object_id>/credits/",
                self.admin_site.admin_view(self.credits_view),
                name="accounts_organization_credits",
            ),
            *super().get_urls(),
        ]

    def credits_view(self, request, object_id):
        return organization_credits_view(self, request, object_id)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "can_change_credits": request.user.has_perm(CREDITS_PERMISSION),
        }
        return super().change_view(request, object_id, form_url, extra_context)


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
    list_display = [
        "code",
        "name",
        "api_access",
        "live_key_limit",
        "test_key_limit",
        "rate_limit_per_minute",
        "monthly_credits",
        "key_creations_per_day",
    ]

    def has_delete_permission(self, request, obj=None):
        # Organizations hold on to their plan; the plans are seeded by a migration.
        return False


# --- People -------------------------------------------------------------------------------


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
