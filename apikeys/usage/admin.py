"""Read-only admin for hourly usage and the request log.

Support finds a customer's failing request by the ``X-Request-ID`` they quote: the search box
matches a request id exactly (an indexed equality, not a case-insensitive scan). Tables are
large, so lists skip the unfiltered full count and join their keys and organizations in one
query. Keys are shown by Key ID only; the log never holds a secret, body or header value.
"""

from django.contrib import admin

from apikeys.usage.models import RequestLog, UsageHourly
from apikeys.usage.selectors import percentile_ms
from perceptis.admin import ReadOnlyAdminMixin


class _ReadOnlyAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    show_full_result_count = False


class StatusClassFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status_class"

    def lookups(self, request, model_admin):
        return [
            ("2xx", "Success (2xx)"),
            ("4xx", "Client error (4xx)"),
            ("5xx", "Server error (5xx)"),
            ("401", "401 Unauthorized"),
            ("403", "403 Forbidden"),
            ("404", "404 Not found"),
            ("429", "429 Too many requests"),
        ]

    def queryset(self, request, queryset):
        value = self.value()
        if not value:
            return queryset
        if value.endswith("xx"):
            low = int(value[0]) * 100
            return queryset.filter(status__gte=low, status__lt=low + 100)
        return queryset.filter(status=int(value))


@admin.register(RequestLog)
class RequestLogAdmin(_ReadOnlyAdmin):
    list_display = (
        "created_at",
        "method",
        "path",
        "status",
        "error_code",
        "latency_ms",
        "key_id",
        "organization",
        "client_ip",
        "request_id",
    )
    list_filter = (StatusClassFilter, "organization", "created_at")
    list_select_related = ("api_key", "organization")
    search_fields = ("request_id",)
    search_help_text = "Exact request id (X-Request-ID), e.g. req_3f9a…"
    ordering = ("-created_at", "-id")
    fields = (
        "created_at",
        "request_id",
        "organization",
        "key_id",
        "method",
        "path",
        "status",
        "error_code",
        "latency_ms",
        "client_ip",
        "user_agent",
    )
    readonly_fields = fields

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        return queryset.filter(request_id=term), False

    @admin.display(description="Key ID", ordering="api_key__key_id")
    def key_id(self, obj):
        return obj.api_key.key_id if obj.api_key_id else "—"


@admin.register(UsageHourly)
class UsageHourlyAdmin(_ReadOnlyAdmin):
    list_display = (
        "hour",
        "organization",
        "key_id",
        "requests",
        "errors",
        "error_rate",
        "p50_ms",
        "p95_ms",
    )
    list_filter = ("organization", "hour")
    list_select_related = ("api_key", "organization")
    search_fields = ("=api_key__key_id",)
    search_help_text = "Exact Key ID, e.g. key_7Hq2…"
    ordering = ("-hour", "api_key_id")

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    @admin.display(description="Key ID", ordering="api_key__key_id")
    def key_id(self, obj):
        return obj.api_key.key_id

    @admin.display(description="Error rate")
    def error_rate(self, obj):
        return f"{obj.errors / obj.requests:.1%}" if obj.requests else "—"

    @admin.display(description="p50 (ms)")
    def p50_ms(self, obj):
        return percentile_ms(obj.histogram(), 0.50)

    @admin.display(description="p95 (ms)")
    def p95_ms(self, obj):
        return percentile_ms(obj.histogram(), 0.95)
