"""Developer Settings: usage and costs. The costs are the costs API's answer (``costs_report``),
drawn as a stacked chart by key or model, a table of the same groups and a CSV of its rows."""

import csv
from datetime import timedelta

from django.http import StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from accounts.decorators import member_required
from apikeys.keys.models import ApiKey
from apikeys.keys.selectors import apikey_list
from apikeys.usage import selectors
from apikeys.usage.charts import stacked_chart
from apikeys.usage.views import figures, usage_context, usage_range
from billing.models import CreditAccount
from billing.selectors import ledger_lines
from jobs.costs import CostQuery, bucket_bounds, costs_report
from jobs.views.spend import CsvEcho, csv_cell

LEDGER_ROWS = 20
GROUPS = {"key": "Key", "model": "Model"}
DEFAULT_GROUP = "key"


def _costs_query(request, span: dict) -> tuple[CostQuery, str]:
    """Return the costs query of the page's range and ``?group=``: hour buckets for a day or
    two, day buckets beyond."""
    group = request.GET.get("group", DEFAULT_GROUP)
    if group not in GROUPS:
        group = DEFAULT_GROUP
    bucket = "hour" if span["until"] - span["since"] <= timedelta(days=2) else "day"
    start, end = bucket_bounds(span["since"], span["until"], bucket)
    return CostQuery(start=start, end=end, bucket=bucket, group_by=(group,)), group


def _label(row: dict, group: str) -> str:
    name = (row["key_name"] or row["key_id"] or "A key") if group == "key" else row["model"]
    return f"{name or 'unknown'} (test)" if row["test"] else (name or "unknown")


def costs_context(request, span: dict) -> dict:
    """Return the page's costs: the report, the stacked chart, one table row per group."""
    query, group = _costs_query(request, span)
    report = costs_report(organization=request.organization, query=query)
    starts = [bucket["start"] for bucket in report["buckets"]]
    groups: dict[tuple, dict] = {}
    for index, bucket in enumerate(report["buckets"]):
        for row in bucket["results"]:
            identity = (row["key_id"], row["model"], row["test"])
            entry = groups.setdefault(
                identity,
                {
                    "label": _label(row, group),
                    "key_id": row["key_id"],
                    "test": row["test"],
                    "values": [0] * len(starts),
                    "credits": 0,
                    "jobs": 0,
                    "input_tokens": 0,
                    "output_tokens": 0,
                },
            )
            entry["values"][index] += row["credits"]
            for name in ("credits", "jobs", "input_tokens", "output_tokens"):
                entry[name] += row[name]
    rows = sorted(groups.values(), key=lambda r: (r["test"], -r["credits"], -r["jobs"], r["label"]))
    hourly = query.bucket == "hour"
    chart = stacked_chart(
        starts,
        [(row["label"], row["values"]) for row in rows if row["credits"] > 0],
        label_format="%b %d %H:00" if hourly else "%b %d",
        noun="credits",
        step_label="per hour" if hourly else "per day",
    )
    return {
        "costs": report,
        "cost_rows": rows,
        "cost_group": group,
        "cost_groups": list(GROUPS.items()),
        "costs_chart": chart,
    }


@require_GET
@member_required
def usage(request):
    """The organization's requests and costs for a range, costs by key or by model."""
    context = usage_context(request)
    since, until = context["since"], context["until"]
    organization = request.organization
    by_key = selectors.usage_summaries_by_key(organization=organization, since=since, until=until)
    keys = ApiKey.objects.filter(pk__in=set(by_key), organization=organization).in_bulk()
    rows = sorted(
        ({"key": keys.get(pk), "figures": figures(summary)} for pk, summary in by_key.items()),
        key=lambda row: -row["figures"]["requests"],
    )
    account = CreditAccount.objects.filter(organization=organization).first()
    # One line per finished job (reserve and settlement folded into its net charge).
    entries = ledger_lines(organization=organization)[:LEDGER_ROWS] if account else []
    context.update(
        costs_context(request, context),
        key_rows=rows,
        balance=account.balance if account else 0,
        entries=entries,
        first_key=apikey_list(organization=organization).filter(status="active").first(),
    )
    return render(request, "developer/usage.html", context)


CSV_HEADER = [
    "bucket_start_utc",
    "bucket_end_utc",
    "key_id",
    "key_name",
    "model",
    "test",
    "credits",
    "jobs",
    "input_tokens",
    "output_tokens",
]


def _cost_csv_rows(report: dict):
    yield CSV_HEADER
    for bucket in report["buckets"]:
        for row in bucket["results"]:
            yield [
                bucket["start"].strftime("%Y-%m-%dT%H:%M:%SZ"),
                bucket["end"].strftime("%Y-%m-%dT%H:%M:%SZ"),
                row["key_id"] or "",
                csv_cell(row["key_name"]),
                csv_cell(row["model"]),
                "true" if row["test"] else "false",
                row["credits"],
                row["jobs"],
                row["input_tokens"],
                row["output_tokens"],
            ]


@require_GET
@member_required
def usage_costs_csv(request):
    """Download the page's costs, one line per bucket and group, as the costs API has them."""
    query, group = _costs_query(request, usage_range(request))
    report = costs_report(organization=request.organization, query=query)
    writer = csv.writer(CsvEcho())
    response = StreamingHttpResponse(
        (writer.writerow(row) for row in _cost_csv_rows(report)), content_type="text/csv"
    )
    stamp = timezone.now().strftime("%Y%m%d")
    response["Content-Disposition"] = (
        f'attachment; filename="costs-by-{group}-{request.organization.slug}-{stamp}.csv"'
    )
    return response
