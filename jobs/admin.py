"""Jobs in Django admin: a read-only record, with retry and cancel through ``jobs.services``."""

import json

from django.contrib import admin
from django.utils.html import format_html

from accounts.admin import IndexedSearchMixin
from accounts.audit import Actor
from jobs.models import Job
from jobs.services import job_cancel, job_retry
from perceptis.admin import NoSecretLookupsMixin, ReadOnlyAdminMixin, apply_service


def _pretty(value) -> str:
    if value in (None, "", {}):
        return "—"
    return format_html("<pre>{}</pre>", json.dumps(value, indent=2, ensure_ascii=False))


@admin.register(Job)
class JobAdmin(IndexedSearchMixin, ReadOnlyAdminMixin, NoSecretLookupsMixin, admin.ModelAdmin):
    list_display = [
        "job_id",
        "status",
        "organization",
        "key_id",
        "test",
        "created_at",
        "started_at",
        "finished_at",
        "attempts",
        "model",
        "credits_reserved",
        "credits_charged",
    ]
    list_select_related = ["organization", "api_key"]
    list_filter = ["status", "test", "model", "created_at", "organization__plan"]
    search_fields = ["job_id"]  # shows the search box; IndexedSearchMixin searches
    id_searches = (("job_", "job_id"), ("key_", "api_key__key_id"))
    search_help_text = "A Job ID or Key ID (exact), or an organization's name (part) or slug."
    show_full_result_count = False
    list_per_page = 50
    actions = ["retry_jobs", "cancel_jobs"]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "job_id",
                    "status",
                    "organization",
                    "api_key",
                    "test",
                    "attempts",
                ]
            },
        ),
        (
            "Price",
            {
                "fields": [
                    "model",
                    "max_tokens",
                    "input_credits_per_1k_tokens",
                    "output_credits_per_1k_tokens",
                    "input_tokens",
                    "output_tokens",
                    "credits_reserved",
                    "credits_charged",
                ]
            },
        ),
        ("Times", {"fields": ["created_at", "enqueued_at", "started_at", "finished_at"]}),
        ("Input", {"fields": ["prompt", "options_display", "idempotency_key"]}),
        ("Outcome", {"fields": ["result_display", "error_code", "error_message"]}),
    ]
    readonly_fields = [f for _, group in fieldsets for f in group["fields"]]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("organization", "api_key")

    @admin.display(description="key", ordering="api_key__key_id")
    def key_id(self, obj):
        return obj.api_key.key_id

    @admin.display(description="options")
    def options_display(self, obj):
        return _pretty(obj.options)

    @admin.display(description="result")
    def result_display(self, obj):
        return _pretty(obj.result)

    # The record is read-only for everyone; retry and cancel need ``jobs.change_job``.

    def has_manage_permission(self, request):
        return request.user.has_perm("jobs.change_job")

    @admin.action(description="Retry selected failed jobs (no new charge)", permissions=["manage"])
    def retry_jobs(self, request, queryset):
        apply_service(
            self,
            request,
            queryset.select_related("organization"),
            job_retry,
            actor=Actor.for_request(request),
            verb="Queued again",
            target="job",
        )

    @admin.action(
        description="Cancel selected queued or running jobs (running ones stop at their next step)",
        permissions=["manage"],
    )
    def cancel_jobs(self, request, queryset):
        apply_service(
            self,
            request,
            queryset.select_related("organization"),
            job_cancel,
            actor=Actor.for_request(request),
            verb="Canceled",
            target="job",
        )
