"""Organizations, their members and plans in admin."""

from functools import partial

from django import forms
from django.contrib import admin
from django.db.models import Count, IntegerField, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.urls import path, reverse
from django.utils.html import format_html_join

from accounts.audit import Actor
from accounts.models import Membership, Organization, Plan
from accounts.services import (
    KEY_LIFETIME_RANGE,
    organization_set_key_policy,
    organization_set_plan,
)
from perceptis.admin import ReadOnlyAdminMixin

# --- Search of the large tables by organization --------------------------------------------


class IndexedSearchMixin:
    """Search a large table so that an index answers: a public id exactly, else organizations.

    Django's own search (``search_fields``) joins every field into one ``OR`` and compares
    ``UPPER(field)``, which no index serves: on the jobs or the ledger table every search read
    the whole table. Here a term that is a public id (``id_searches``: the id's prefix, and
    its exact lookup) is looked up by that id alone; any other term is an organization's
    name (contains) or slug (exact), found in the small organizations table first, and the rows
    are then those of the organizations found (``organization_lookup``), through the table's
    organization index.
    """

    id_searches: tuple[tuple[str, str], ...] = ()
    organization_lookup = "organization"

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        for prefix, lookup in self.id_searches:
            if term.startswith(prefix):
                return queryset.filter(**{lookup: term}), False
        found = Organization.objects.filter(Q(name__icontains=term) | Q(slug=term))
        return queryset.filter(**{f"{self.organization_lookup}__in": found}), False


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
        fields = ["plan", "key_max_lifetime_days", "key_expiry_required"]
        help_texts = {
            "plan": "Changing the plan is audited; API eligibility changes on the next request.",
            "key_max_lifetime_days": "The key policy: 1 to 366 days, empty for no maximum (a "
            "maximum means every new key expires). Audited; existing keys keep working.",
            "key_expiry_required": "The key policy: every new key must have an expiry.",
        }

    def clean_key_max_lifetime_days(self):
        value = self.cleaned_data["key_max_lifetime_days"]
        low, high = KEY_LIFETIME_RANGE
        if value is not None and not low <= value <= high:
            raise forms.ValidationError(f"A whole number of days from {low} to {high}.")
        return value


def _active_keys_subquery():
    # Keys live in a higher app: reach their model through the relation, not an import.
    api_key_model = Organization._meta.get_field("api_keys").related_model
    counts = (
        api_key_model.objects.filter(organization=OuterRef("pk"), status="active")
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
        "key_max_lifetime_days",
        "key_expiry_required",
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
        # The ledger itself, which billing keeps equal to the balance.
        total = Organization.objects.filter(pk=obj.pk).aggregate(
            total=Sum("credit_account__entries__amount")
        )["total"]
        return total or 0

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
        if change and {"key_max_lifetime_days", "key_expiry_required"} & set(form.changed_data):
            organization_set_key_policy(
                organization=obj,
                max_lifetime_days=form.cleaned_data["key_max_lifetime_days"],
                expiry_required=form.cleaned_data["key_expiry_required"],
                actor=Actor.for_request(request),
            )

    # Pages on one organization that higher apps add (billing's credits form), as
    # ``{name: view(model_admin, request, object_id)}``: served at ``<id>/<name>/`` and named
    # ``admin:accounts_organization_<name>``.
    object_views: dict = {}

    def get_urls(self):
        return [
            *(
                path(
                    f"<path:object_id>/{name}/",
                    self.admin_site.admin_view(partial(view, self)),
                    name=f"accounts_organization_{name}",
                )
                for name, view in self.object_views.items()
            ),
            *super().get_urls(),
        ]


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
