"""API keys in Django admin: list, inspect, disable, enable, revoke and identify a pasted key.

Secrets never reach the admin: ``KeySecret`` is not registered, no page shows, filters or
searches by a hash (``lookup_allowed`` refuses such lookups, as ``UserAdmin`` refuses password
lookups), and there is no add form (keys are created in Developer Settings, the key API or with
``create_api_key``, which show the plaintext once). Every change goes through
``apikeys.keys.services`` with the staff user as the audited actor.
"""

from django import forms
from django.contrib import admin
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables

from accounts.audit import Actor, audit_record
from apikeys.keys import keyformat
from apikeys.keys.lookup import lookup_key
from apikeys.keys.models import ApiKey
from apikeys.keys.services import apikey_disable, apikey_enable, apikey_revoke
from perceptis.admin import NoSecretLookupsMixin, ReadOnlyAdminMixin, apply_service


class KeyStatusFilter(admin.SimpleListFilter):
    """Filter by the status a client sees, ``expired`` included (it is derived, never stored)."""

    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return [
            ("active", "Active"),
            ("inactive", "Inactive"),
            ("expired", "Expired"),
            ("revoked", "Revoked"),
            ("deleted", "Deleted (revoked and hidden)"),
        ]

    def queryset(self, request, queryset):
        value = self.value()
        if value in ApiKey.Status.values:
            return queryset.with_status(value, timezone.now())
        if value == "deleted":
            return queryset.filter(deleted_at__isnull=False)
        return queryset


class FindKeyForm(forms.Form):
    # A password input that never renders its value back: the page must not echo the key.
    key = forms.CharField(
        label="API key",
        strip=True,
        max_length=200,
        widget=forms.PasswordInput(
            render_value=False, attrs={"autocomplete": "off", "spellcheck": "false"}
        ),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, label_suffix="", **kwargs)  # labels without colons


@admin.register(ApiKey)
class ApiKeyAdmin(ReadOnlyAdminMixin, NoSecretLookupsMixin, admin.ModelAdmin):
    # The status right after the name: on a narrow screen the table scrolls sideways, and the
    # columns Support reads first stay in view.
    list_display = [
        "key_id",
        "name",
        "status_display",
        "organization",
        "hint",
        "type",
        "environment",
        "last_used_at",
        "expires_at",
    ]
    list_select_related = ["organization"]
    list_filter = [KeyStatusFilter, "type", "environment", "revoked_reason", "organization__plan"]
    search_fields = ["=key_id", "name", "organization__name", "=organization__slug"]
    search_help_text = "Key ID (exact), key name, organization name or slug (exact)."
    show_full_result_count = False
    list_per_page = 50
    actions = ["disable_keys", "enable_keys", "revoke_keys"]
    fields = [
        "key_id",
        "name",
        "organization",
        "hint",
        "type",
        "environment",
        "status_display",
        "permissions",
        "rate_limit_per_minute",
        "ip_allowlist",
        "allowed_models",
        "spend_limit_credits",
        "spend_limit_period",
        "expires_at",
        "created_at",
        "created_by",
        "created_by_key",
        "rotated_at",
        "revoked_at",
        "revoked_reason",
        "exposure_source",
        "exposure_url",
        "deleted_at",
        "last_used_at",
        "last_used_ip",
        "last_used_user_agent",
    ]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("organization")

    @admin.display(description="status", ordering="status")
    def status_display(self, obj):
        label = ApiKey.Status(obj.effective_status()).label
        return f"{label} (deleted)" if obj.deleted_at else label

    # --- Permissions ----------------------------------------------------------------------
    # Nobody adds, edits or deletes a key here: the detail page is read-only for everyone and
    # state changes are the actions below, which need ``apikeys.change_apikey``.

    def has_manage_permission(self, request):
        return request.user.has_perm("apikeys.change_apikey")

    # --- Actions --------------------------------------------------------------------------

    def _change_status(self, request, queryset, service, verb: str) -> None:
        # The staff member is the actor: support acts as itself, never as a key.
        apply_service(
            self,
            request,
            queryset.select_related("organization"),
            service,
            actor=Actor.for_request(request),
            verb=verb,
            target="key",
        )

    @admin.action(
        description="Disable selected keys (can be enabled again)", permissions=["manage"]
    )
    def disable_keys(self, request, queryset):
        self._change_status(request, queryset, apikey_disable, "Disabled")

    @admin.action(description="Enable selected keys", permissions=["manage"])
    def enable_keys(self, request, queryset):
        self._change_status(request, queryset, apikey_enable, "Enabled")

    @admin.action(description="Revoke selected keys (permanent)…", permissions=["manage"])
    def revoke_keys(self, request, queryset):
        """Ask for confirmation, then revoke: revocation cannot be undone."""
        if request.POST.get("post") == "yes":
            self._change_status(request, queryset, apikey_revoke, "Revoked")
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": "Revoke API keys?",
            "opts": self.model._meta,
            "queryset": queryset.select_related("organization"),
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "action_name": "revoke_keys",
        }
        return TemplateResponse(request, "admin/apikeys/apikey/revoke_confirmation.html", context)

    # --- Find a key by its plaintext ------------------------------------------------------

    def get_urls(self):
        urls = [
            path(
                "find/",
                self.admin_site.admin_view(self.find_key_view),
                name="apikeys_apikey_find",
            ),
        ]
        return urls + super().get_urls()

    @method_decorator(sensitive_post_parameters("key"))
    @method_decorator(never_cache)
    def find_key_view(self, request):
        """Tell support which key a pasted plaintext is, by hashing it; store and echo nothing.

        POST only, so the key never lands in a URL, a proxy log or the browser history. The
        plaintext is hashed and dropped; the answer names the Key ID, organization and status.
        """
        if not self.has_view_permission(request):
            raise PermissionDenied
        result = None
        if request.method == "POST":
            form = FindKeyForm(request.POST)
            if form.is_valid():
                result = self._describe(request, identify_key(form.cleaned_data["key"]))
                # Never hand the submitted value back to the template. (An invalid form keeps
                # its errors; its password input does not render the value either.)
                form = FindKeyForm()
        else:
            form = FindKeyForm()
        context = {
            **self.admin_site.each_context(request),
            "title": "Find an API key",
            "opts": self.model._meta,
            "form": form,
            "result": result,
        }
        return TemplateResponse(request, "admin/apikeys/apikey/find_key.html", context)

    def _describe(self, request, found) -> dict:
        if found is None or found is MALFORMED:
            return {"found": False, "malformed": found is MALFORMED}
        key, secret = found
        now = timezone.now()
        audit_record(
            actor=Actor.for_request(request),
            action="api_key.identified",
            organization=key.organization,
            target=key,
        )
        status = ApiKey.Status(key.effective_status(now)).label
        return {
            "found": True,
            "key_id": key.key_id,
            "name": key.name,
            "organization": key.organization,
            "status": f"{status} (deleted)" if key.deleted_at else status,
            "secret_current": secret.is_current(now),
            "secret_expires_at": secret.expires_at,
            "url": reverse("admin:apikeys_apikey_change", args=[key.pk]),
        }


MALFORMED = object()


# Error reports (the e-mails and pages Django builds when DEBUG is off) hide every local of
# this frame and of the frames it calls (parsing, hashing, the lookup), so the key never
# reaches them.
@sensitive_variables()
def identify_key(plaintext: str):
    """Return ``(key, secret)`` for a pasted plaintext, ``MALFORMED``, or None when unknown."""
    if keyformat.parse(plaintext) is None:
        return MALFORMED
    return lookup_key(plaintext)
