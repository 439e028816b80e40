"""Usage figures and chart (shared with the usage page, ``jobs.views.usage``, and the key page),
the request log and the activity log."""

from datetime import UTC, datetime, time, timedelta

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
from apikeys.usage.forms import RequestLogFilterForm, UsageRangeForm
from apikeys.usage.models import RequestLog
from perceptis.pagination import paginate

# Chart buckets per preset: 24 hourly bars, 28 six-hour bars, 30 daily bars, 30 three-day bars.
CHART_STEPS = {
    "24h": (timedelta(hours=1), "%b %d %H:00", "per hour"),
    "7d": (timedelta(hours=6), "%b %d %H:00", "per 6 hours"),
    "30d": (timedelta(days=1), "%b %d", "per day"),
    "90d": (timedelta(days=3), "%b %d", "per 3 days"),
}
WINDOW_LABELS = {"24h": "24 hours", "7d": "7 days", "30d": "30 days", "90d": "90 days"}
DEFAULT_WINDOW = "24h"


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


def _custom_step(days: int) -> tuple[timedelta, str, str]:
    if days <= 2:
        return timedelta(hours=1), "%b %d %H:00", "per hour"
    if days <= 60:
        return timedelta(days=1), "%b %d", "per day"
    return timedelta(days=7), "%b %d", "per week"


_RANGE_PARAMETERS = frozenset({"start", "end", "window", "page"})


def usage_range(request) -> dict:
    """Return the range the page shows: a preset (``?window=``) or whole UTC days
    (``?start=&end=``); a bad custom range falls back to the default with the form's errors.
    ``range_kept`` are the page's other parameters (``?group=``…), which the custom range's
    form carries along."""
    now = timezone.now()
    kept = [(name, value) for name, value in request.GET.items() if name not in _RANGE_PARAMETERS]
    range_form = UsageRangeForm(request.GET if "start" in request.GET else None)
    if range_form.is_bound and range_form.is_valid():
        start, end = range_form.cleaned_data["start"], range_form.cleaned_data["end"]
        since = datetime.combine(start, time.min, tzinfo=UTC)
        until = min(datetime.combine(end, time.min, tzinfo=UTC) + timedelta(days=1), now)
        days = (end - start).days + 1
        step, label_format, step_label = _custom_step(days)
        label = f"{start:%b %d, %Y} to {end:%b %d, %Y}"
        return {
            "window": "custom", "since": since, "until": until, "step": step,
            "label_format": label_format, "step_label": step_label, "window_label": label,
            "range_form": range_form, "range_kept": kept,
        }  # fmt: skip
    window = request.GET.get("window", DEFAULT_WINDOW)
    if window not in selectors.USAGE_WINDOWS:
        window = DEFAULT_WINDOW
    step, label_format, step_label = CHART_STEPS[window]
    if not range_form.is_bound:
        today = now.date()
        range_form = UsageRangeForm(
            initial={"start": today - selectors.USAGE_WINDOWS[window], "end": today}
        )
    return {
        "window": window, "since": now - selectors.USAGE_WINDOWS[window], "until": now,
        "step": step, "label_format": label_format, "step_label": step_label,
        "window_label": f"the last {WINDOW_LABELS[window]}", "range_form": range_form,
        "range_kept": kept,
    }  # fmt: skip


def usage_context(request, *, api_key: ApiKey | None = None) -> dict:
    """Return the range, summary figures and chart for the organization or one key."""
    span = usage_range(request)
    since, until = span["since"], span["until"]
    summary = selectors.usage_summary(
        organization=request.organization, since=since, until=until, api_key=api_key
    )
    series = selectors.usage_series(
        organization=request.organization, since=since, api_key=api_key, step=span["step"],
        now=until - timedelta(microseconds=1) if span["window"] == "custom" else until,
    )  # fmt: skip
    return {
        **span,
        "windows": [(name, WINDOW_LABELS[name]) for name in selectors.USAGE_WINDOWS],
        "figures": figures(summary),
        "chart": requests_chart(
            series, label_format=span["label_format"], step_label=span["step_label"]
        ),
        "api_key": api_key,
        "api_base": request.build_absolute_uri("/api/v1/"),
    }


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
