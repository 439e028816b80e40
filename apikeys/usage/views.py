"""Usage figures and chart, credits, the request log and the activity log."""

from datetime import timedelta

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.views.decorators.http import require_GET

from accounts.decorators import member_required
from accounts.models import Organization
from accounts.selectors import audit_events_for
from apikeys.keys.models import ApiKey
from apikeys.keys.selectors import apikey_list
from apikeys.usage import selectors
from apikeys.usage.charts import requests_chart
from apikeys.usage.forms import RequestLogFilterForm
from apikeys.usage.models import RequestLog
from billing.models import CreditAccount
from billing.selectors import ledger_lines
from perceptis.pagination import paginate

# Chart buckets per window: 24 hourly bars, 28 six-hour bars, 30 daily bars.
CHART_STEPS = {
    "24h": (timedelta(hours=1), "%b %d %H:00"),
    "7d": (timedelta(hours=6), "%b %d %H:00"),
    "30d": (timedelta(days=1), "%b %d"),
}
WINDOW_LABELS = {"24h": "24 hours", "7d": "7 days", "30d": "30 days"}
DEFAULT_WINDOW = "24h"
LEDGER_ROWS = 20


def figures(summary: selectors.UsageSummary) -> dict:
    """Return a usage summary's figures as the pages print them."""

    def ms(value):
        return "–" if value is None else f"{value:g} ms"

    return {
        "requests": summary.requests,
        "errors": summary.errors,
        "error_rate": f"{summary.error_rate * 100:.1f}%" if summary.requests else "–",
        "p50": ms(summary.p50_ms),
        "p95": ms(summary.p95_ms),
    }


def usage_context(request, *, api_key: ApiKey | None = None) -> dict:
    """Return the window tabs, summary figures and chart for the organization or one key."""
    window = request.GET.get("window", DEFAULT_WINDOW)
    if window not in selectors.USAGE_WINDOWS:
        window = DEFAULT_WINDOW
    now = timezone.now()
    since = now - selectors.USAGE_WINDOWS[window]
    step, label_format = CHART_STEPS[window]
    summary = selectors.usage_summary(
        organization=request.organization, since=since, api_key=api_key
    )
    series = selectors.usage_series(
        organization=request.organization, since=since, api_key=api_key, step=step, now=now
    )
    return {
        "window": window,
        "window_label": WINDOW_LABELS[window],
        "windows": [(name, WINDOW_LABELS[name]) for name in selectors.USAGE_WINDOWS],
        "figures": figures(summary),
        "chart": requests_chart(series, label_format=label_format),
        "since": since,
    }


@require_GET
@member_required
def usage(request):
    """The organization's usage, usage by key, and its credit balance with recent entries."""
    context = usage_context(request)
    by_key = selectors.usage_summaries_by_key(
        organization=request.organization, since=context["since"]
    )
    keys = ApiKey.objects.filter(pk__in=by_key, organization=request.organization).in_bulk()
    rows = sorted(
        ({"key": keys.get(pk), "figures": figures(summary)} for pk, summary in by_key.items()),
        key=lambda row: -row["figures"]["requests"],
    )
    account = CreditAccount.objects.filter(organization=request.organization).first()
    # One line per finished job (reserve and settlement folded into its net charge).
    entries = ledger_lines(organization=request.organization)[:LEDGER_ROWS] if account else []
    context.update(key_rows=rows, balance=account.balance if account else 0, entries=entries)
    return render(request, "developer/usage.html", context)


def request_log_for(
    *,
    organization: Organization,
    key: ApiKey | None = None,
    status: str = "",
    since=None,
    until=None,
) -> QuerySet:
    """Return the organization's logged API requests, newest first, optionally filtered.

    ``status`` is an exact code (``401``) or a class (``4xx``).
    """
    qs = RequestLog.objects.filter(organization=organization).select_related("api_key")
    if key is not None:
        qs = qs.filter(api_key=key)
    if status.endswith("xx"):
        low = int(status[0]) * 100
        qs = qs.filter(status__gte=low, status__lt=low + 100)
    elif status:
        qs = qs.filter(status=int(status))
    if since is not None:
        qs = qs.filter(created_at__gte=since)
    if until is not None:
        qs = qs.filter(created_at__lte=until)
    return qs.order_by("-created_at", "-id")


@require_GET
@member_required
def request_log(request):
    keys = apikey_list(organization=request.organization).order_by("name")
    form = RequestLogFilterForm(request.GET, keys=keys)
    filters = {}
    if form.is_valid():
        data = form.cleaned_data
        if data["key"]:
            filters["key"] = next(key for key in keys if key.key_id == data["key"])
        filters.update(status=data["status"], since=data["since"], until=data["until"])
    entries = request_log_for(organization=request.organization, **filters)
    return render(
        request,
        "developer/request_log.html",
        {"form": form, "page": paginate(request, entries)},
    )


@require_GET
@member_required
def request_detail(request, pk: int):
    """One logged API request: everything the log holds about it."""
    entry = get_object_or_404(
        RequestLog.objects.select_related("api_key"), organization=request.organization, pk=pk
    )
    return render(request, "developer/request_detail.html", {"entry": entry})


@require_GET
@member_required
def activity(request):
    """The organization's audit log, newest first."""
    events = audit_events_for(organization=request.organization).order_by("-created_at", "-id")
    return render(request, "developer/activity.html", {"page": paginate(request, events)})
