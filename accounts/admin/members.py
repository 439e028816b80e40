"""Memberships and invitations in admin: read-only rows; revoking an invitation is an action
that calls ``invitation_revoke`` with the staff member as the audited actor."""

from django.contrib import admin, messages
from django.utils import timezone

from accounts.audit import Actor
from accounts.members.services import invitation_revoke
from accounts.models import Invitation, Membership
from perceptis.admin import ReadOnlyAdminMixin
from perceptis.errors import DomainError


@admin.register(Membership)
class MembershipAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["user", "organization", "role", "created_at"]
    list_filter = ["role"]
    search_fields = ["user__email", "organization__name", "organization__slug"]
    list_select_related = ["user", "organization"]
    ordering = ["organization__name", "user__email"]


class InvitationStatusFilter(admin.SimpleListFilter):
    """Filter by the status shown on the Members page (``expired`` is derived, not stored)."""

    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return Invitation.Status.choices

    def queryset(self, request, queryset):
        now = timezone.now()
        value = self.value()
        if value == "accepted":
            return queryset.filter(accepted_at__isnull=False)
        if value == "revoked":
            return queryset.filter(accepted_at__isnull=True, revoked_at__isnull=False)
        open_ = queryset.filter(accepted_at__isnull=True, revoked_at__isnull=True)
        if value == "expired":
            return open_.filter(expires_at__lte=now)
        if value == "pending":
            return open_.filter(expires_at__gt=now)
        return queryset


@admin.register(Invitation)
class InvitationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    # The token's hash is never displayed, filtered or searched.
    list_display = [
        "email",
        "organization",
        "role",
        "status_display",
        "invited_by",
        "sent_at",
        "expires_at",
        "accepted_by",
    ]
    list_filter = [InvitationStatusFilter, "role"]
    search_fields = ["email", "organization__name", "organization__slug"]
    list_select_related = ["organization", "invited_by", "accepted_by"]
    fields = [
        "organization",
        "email",
        "role",
        "invited_by",
        "created_at",
        "sent_at",
        "expires_at",
        "accepted_at",
        "accepted_by",
        "revoked_at",
    ]
    actions = ["revoke_invitations"]

    @admin.display(description="status")
    def status_display(self, obj):
        return Invitation.Status(obj.status()).label

    def lookup_allowed(self, lookup, value, request=None):
        if "token_hash" in lookup.split("__"):
            return False
        return super().lookup_allowed(lookup, value, request)

    def has_revoke_permission(self, request):
        return request.user.has_perm("accounts.change_invitation")

    @admin.action(description="Revoke selected invitations", permissions=["revoke"])
    def revoke_invitations(self, request, queryset):
        actor = Actor.for_request(request)
        done = 0
        for invitation in queryset.select_related("organization"):
            try:
                invitation_revoke(invitation=invitation, actor=actor, support=True)
                done += 1
            except DomainError as exc:
                self.message_user(
                    request, f"Not revoked: {invitation}. {exc.message}", level=messages.WARNING
                )
        if done:
            self.message_user(request, f"Revoked {done} invitation{'s' if done != 1 else ''}.")
