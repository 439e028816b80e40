"""Projects in admin: read-only with their spend and keys; Support may archive one."""

from django.contrib import admin
from django.db.models import Count, Q
from django.utils import timezone

from accounts.audit import Actor
from accounts.models import Project
from accounts.projects.services import project_archive
from perceptis.admin import ReadOnlyAdminMixin, apply_service


@admin.register(Project)
class ProjectAdminPage(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "project_id",
        "name",
        "organization",
        "is_default",
        "archived_at",
        "spend_this_month",
        "monthly_spend_limit",
        "rate_limit_ceiling",
        "open_keys",
    ]
    list_select_related = ["organization"]
    list_filter = ["is_default", ("archived_at", admin.EmptyFieldListFilter)]
    search_fields = ["=project_id", "name", "organization__name", "=organization__slug"]
    search_help_text = "Project ID (exact), project name, organization name or slug (exact)."
    show_full_result_count = False
    list_per_page = 50
    actions = ["archive_projects"]
    fields = [
        "project_id",
        "name",
        "organization",
        "is_default",
        "monthly_spend_limit",
        "rate_limit_ceiling",
        "spend_this_month",
        "open_keys",
        "archived_at",
        "created_at",
    ]
    readonly_fields = fields

    def get_queryset(self, request):
        # Keys counted in the same query: a fixed number of queries per page.
        return (
            super()
            .get_queryset(request)
            .select_related("organization")
            .annotate(open_key_count=Count("api_keys", filter=~Q(api_keys__status="revoked")))
        )

    @admin.display(description="keys not revoked", ordering="open_key_count")
    def open_keys(self, obj):
        return obj.open_key_count

    @admin.display(description="spent this month (credits)")
    def spend_this_month(self, obj):
        return obj.spent_in_month_of(timezone.now())

    def has_archive_permission(self, request):
        return request.user.has_perm("accounts.archive_project")

    @admin.action(
        description="Archive selected projects (their keys must be revoked)",
        permissions=["archive"],
    )
    def archive_projects(self, request, queryset):
        apply_service(
            self,
            request,
            queryset.select_related("organization__plan"),
            project_archive,
            actor=Actor.for_request(request),
            verb="Archived",
            target="project",
        )
