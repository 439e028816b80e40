"""Credits in Django admin: the ledger, read-only, and the grant-or-adjust form.

Ledger rows are append-only, so nobody adds, edits or deletes one here, superusers included.
Support changes a balance only through the form on an organization, which requires a reason
and calls ``billing.services.credits_grant`` / ``credits_adjust`` (ledger row + audit row).
The form needs ``billing.add_ledgerentry``: writing a ledger entry is exactly what it does.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse

from accounts.admin import IndexedSearchMixin, OrganizationAdmin
from accounts.audit import Actor
from billing.models import LedgerEntry, ModelAccess, ModelPrice
from billing.prices import modelprice_access_recorded, modelprice_save
from billing.selectors import credits_ledger_sum, ledger_net
from billing.services import credits_adjust, credits_grant
from perceptis.admin import NoSecretLookupsMixin, ReadOnlyAdminMixin
from perceptis.errors import DomainError

CREDITS_PERMISSION = "billing.add_ledgerentry"


@admin.register(LedgerEntry)
class LedgerEntryAdmin(
    IndexedSearchMixin, ReadOnlyAdminMixin, NoSecretLookupsMixin, admin.ModelAdmin
):
    list_display = [
        "created_at",
        "organization",
        "kind",
        "amount",
        "net_display",
        "balance_after",
        "job",
        "reason",
        "actor_label",
    ]
    list_select_related = ["account__organization", "job"]
    list_filter = ["kind", "created_at", "account__organization__plan"]
    search_fields = ["job_ref"]  # shows the search box; IndexedSearchMixin searches
    id_searches = (("job_", "job__job_id"),)
    organization_lookup = "account__organization"
    search_help_text = "A Job ID (exact), or an organization's name (part) or slug."
    show_full_result_count = False
    list_per_page = 100
    fields = [
        "created_at",
        "organization",
        "kind",
        "amount",
        "balance_after",
        "job",
        "period",
        "reason",
        "actor_label",
        "actor_user",
    ]
    readonly_fields = fields

    def get_queryset(self, request):
        queryset = super().get_queryset(request).select_related("account__organization", "job")
        return queryset.annotate(net=ledger_net())

    @admin.display(description="net (job: its charge)")
    def net_display(self, obj):
        # A reserve's job is not settled on this row; its capture or release row has the net.
        if obj.kind == LedgerEntry.Kind.RESERVE:
            return "—"
        return f"{obj.net:+d}"

    @admin.display(description="organization", ordering="account__organization__name")
    def organization(self, obj):
        return obj.account.organization


class CreditsForm(forms.Form):
    OPERATIONS = [
        ("grant", "Grant credits (a positive amount)"),
        ("adjust", "Adjust the balance (positive adds, negative removes)"),
    ]

    operation = forms.ChoiceField(choices=OPERATIONS, widget=forms.RadioSelect, initial="grant")
    amount = forms.IntegerField(min_value=-(10**12), max_value=10**12)
    reason = forms.CharField(
        max_length=255,
        help_text="Required. Recorded on the ledger entry and in the audit log.",
        widget=forms.TextInput(attrs={"size": 70}),
    )

    def clean_reason(self):
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise forms.ValidationError("Say why the balance changes.")
        return reason


def organization_credits_view(model_admin, request, object_id):
    """Grant or adjust an organization's credits through the billing services.

    Wired into the organization admin at ``<id>/credits/``. A refusal from the service (such as
    a balance that would go below zero) is a form error and writes nothing.
    """
    organization = model_admin.get_object(request, object_id)
    if organization is None:
        raise Http404("No such organization.")
    if not (
        model_admin.has_view_permission(request, organization)
        and request.user.has_perm(CREDITS_PERMISSION)
    ):
        raise PermissionDenied
    form = CreditsForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        service = credits_grant if form.cleaned_data["operation"] == "grant" else credits_adjust
        try:
            entry = service(
                organization=organization,
                amount=form.cleaned_data["amount"],
                reason=form.cleaned_data["reason"],
                actor=Actor.for_request(request),
            )
        except DomainError as exc:
            form.add_error("amount", exc.message)
        else:
            model_admin.message_user(
                request,
                f"{entry.get_kind_display()} of {entry.amount:+d} credits recorded; the balance "
                f"is now {credits_ledger_sum(organization=organization)}.",
                messages.SUCCESS,
            )
            return HttpResponseRedirect(
                reverse("admin:accounts_organization_change", args=[organization.pk])
            )
    opts = model_admin.model._meta
    context = {
        **model_admin.admin_site.each_context(request),
        "title": f"Credits for {organization.name}",
        "opts": opts,
        "original": organization,
        "form": form,
        "balance": credits_ledger_sum(organization=organization),
        "recent_entries": LedgerEntry.objects.filter(account__organization=organization)
        .select_related("job")
        .order_by("-created_at", "-id")[:10],
    }
    return TemplateResponse(request, "admin/accounts/organization/credits.html", context)


class ModelAccessInline(admin.TabularInline):
    model = ModelAccess
    extra = 0
    fields = ["plan", "is_default"]


@admin.register(ModelPrice)
class ModelPriceAdmin(admin.ModelAdmin):
    """The price table: superusers change it (every change audited); support reads it."""

    list_display = [
        "model",
        "input_credits_per_1k_tokens",
        "output_credits_per_1k_tokens",
        "max_output_tokens",
        "plan_list",
        "updated_at",
    ]
    search_fields = ["model"]
    inlines = [ModelAccessInline]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("access__plan")

    @admin.display(description="plans")
    def plan_list(self, obj):
        return ", ".join(
            a.plan.name + (" (default)" if a.is_default else "") for a in obj.access.all()
        )

    def has_add_permission(self, request):
        return request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        # Jobs name their model; take a model off every plan instead of deleting it.
        return False

    def save_model(self, request, obj, form, change):
        modelprice_save(price=obj, actor=Actor.for_request(request), created=not change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        if any(formset.has_changed() for formset in formsets):
            modelprice_access_recorded(price=form.instance, actor=Actor.for_request(request))


OrganizationAdmin.object_views["credits"] = organization_credits_view
