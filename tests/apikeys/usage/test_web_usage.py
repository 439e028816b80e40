"""Usage figures and chart, credits, the request log and the activity log."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from accounts.models import AuditEvent, Membership
from apikeys.keys.services import apikey_revoke
from apikeys.usage.charts import nice_ceiling
from apikeys.usage.models import RequestLog, UsageHourly
from billing.services import credits_grant
from tests.helpers import SYSTEM


def hour_ago(hours: int):
    return (timezone.now() - timedelta(hours=hours)).replace(minute=0, second=0, microsecond=0)


def usage_row(key, *, hours_ago: int, requests: int, errors: int = 0, bucket: int = 3):
    # Bucket 3 holds 25-50 ms: with every request there, p50 is 37.5 ms and p95 48.8 ms.
    return UsageHourly.objects.create(
        organization=key.organization,
        api_key=key,
        hour=hour_ago(hours_ago),
        requests=requests,
        errors=errors,
        **{f"latency_b{bucket}": requests},
    )


def stat(response, name: str) -> str:
    match = re.search(rf'data-stat="{name}">([^<]*)<', response.content.decode())
    return match.group(1).strip()


def test_key_page_shows_usage_from_hourly_rows(web, org, make_key):
    key, _ = make_key(org)
    other, _ = make_key(org)
    usage_row(key, hours_ago=2, requests=150, errors=3)
    usage_row(key, hours_ago=5, requests=50, errors=1)
    usage_row(key, hours_ago=24 * 3, requests=800, errors=0)  # outside 24 h, inside 7 d
    usage_row(other, hours_ago=1, requests=999, errors=999)  # another key
    page = web.get(f"/settings/developer/keys/{key.key_id}/")
    assert stat(page, "requests") == "200"
    assert stat(page, "error-rate") == "2.0%"
    assert stat(page, "p50") == "37.5 ms"
    assert stat(page, "p95") == "48.8 ms"
    week = web.get(f"/settings/developer/keys/{key.key_id}/?window=7d")
    assert stat(week, "requests") == "1000"
    assert stat(week, "error-rate") == "0.4%"


def test_usage_without_requests_shows_dashes(web, org, make_key):
    key, _ = make_key(org)
    page = web.get(f"/settings/developer/keys/{key.key_id}/?window=30d")
    assert stat(page, "requests") == "0"
    assert stat(page, "p95") == "–"


def bars(response) -> list[float]:
    """Return the heights of the chart's request bars."""
    svg = re.search(r'<svg[^>]*data-chart="requests".*?</svg>', response.content.decode(), re.S)
    assert svg, "no SVG chart"
    return [float(h) for h in re.findall(r'height="([\d.]+)" class="bar"/>', svg.group(0))]


def test_chart_is_server_drawn_svg_with_a_bar_per_bucket(web, org, make_key):
    key, _ = make_key(org)
    usage_row(key, hours_ago=3, requests=40, errors=10)
    usage_row(key, hours_ago=1, requests=20)
    response = web.get(f"/settings/developer/keys/{key.key_id}/")
    page = response.content.decode()
    # Drawn by the server: no inline script, only the site's own files (none draws charts).
    scripts = re.findall(r"<script[^>]*>", page)
    assert all('src="/static/perceptis/' in tag for tag in scripts)
    assert not any("chart" in tag for tag in scripts)
    heights = bars(response)
    assert len(heights) in (24, 25)  # one bar per hour of the window
    assert max(heights) == 180.0  # the busiest hour fills the chart
    assert 90.0 in heights  # half as busy, half as tall
    assert page.count('class="bar-error"') == 1
    assert "60 in all" in page
    month = web.get(f"/settings/developer/keys/{key.key_id}/?window=30d")
    assert len(bars(month)) in (30, 31)  # one bar per day


def test_organization_usage_adds_up_keys_and_lists_them(web, org, make_key, make_org):
    first, _ = make_key(org, name="First")
    second, _ = make_key(org, name="Second")
    usage_row(first, hours_ago=1, requests=30, errors=3)
    usage_row(second, hours_ago=2, requests=70)
    stranger, _ = make_key(make_org(), name="Stranger")
    usage_row(stranger, hours_ago=1, requests=5000)
    page = web.get("/settings/developer/usage/")
    assert stat(page, "requests") == "100"
    assert stat(page, "error-rate") == "3.0%"
    text = page.content.decode()
    assert text.index("Second") < text.index("First")  # busiest first
    assert "Stranger" not in text


def test_usage_page_shows_credit_balance_and_ledger(web, org, owner):
    credits_grant(organization=org, amount=250, reason="Top-up for launch", actor=SYSTEM)
    page = web.get("/settings/developer/usage/")
    assert stat(page, "balance") == "350"  # 100 opening balance + 250
    text = page.content.decode()
    assert "Top-up for launch" in text
    assert "+250" in text


def log(key, *, status=200, minutes_ago=0, path="/api/v1/generate", error_code=""):
    return RequestLog.objects.create(
        organization=key.organization,
        api_key=key,
        created_at=timezone.now() - timedelta(minutes=minutes_ago),
        method="POST",
        path=path,
        status=status,
        error_code=error_code,
        latency_ms=12,
        client_ip="198.51.100.4",
        request_id=f"req_{status}_{minutes_ago}",
    )


def request_ids(response) -> list[str]:
    return re.findall(r'<code class="small[^"]*">(req_[^<]+)</code>', response.content.decode())


def test_request_log_is_newest_first_and_scoped(web, org, make_key, make_org):
    key, _ = make_key(org)
    log(key, minutes_ago=30)
    log(key, status=401, minutes_ago=5, error_code="api_key_revoked")
    stranger, _ = make_key(make_org())
    log(stranger, status=500, minutes_ago=1)
    response = web.get("/settings/developer/requests/")
    assert request_ids(response) == ["req_401_5", "req_200_30"]
    assert "api_key_revoked" in response.content.decode()


def test_request_log_filters_by_key_status_and_time(web, org, make_key):
    first, _ = make_key(org)
    second, _ = make_key(org)
    log(first, status=200, minutes_ago=120)
    log(first, status=429, minutes_ago=10)
    log(second, status=401, minutes_ago=5)
    assert request_ids(web.get(f"/settings/developer/requests/?key={second.key_id}")) == [
        "req_401_5"
    ]
    assert request_ids(web.get("/settings/developer/requests/?status=4xx")) == [
        "req_401_5",
        "req_429_10",
    ]
    assert request_ids(web.get("/settings/developer/requests/?status=429")) == ["req_429_10"]
    since = (timezone.now() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    assert request_ids(web.get(f"/settings/developer/requests/?since={since}")) == [
        "req_401_5",
        "req_429_10",
    ]
    bad = web.get("/settings/developer/requests/?status=abc&key=key_nope&since=soon")
    assert bad.status_code == 200


def test_request_log_pages_at_fifty(web, org, make_key):
    key, _ = make_key(org)
    for minute in range(55):
        log(key, minutes_ago=minute)
    first = web.get("/settings/developer/requests/")
    assert len(request_ids(first)) == 50
    assert request_ids(first)[0] == "req_200_0"
    assert request_ids(web.get("/settings/developer/requests/?page=2"))[-1] == "req_200_54"


def test_activity_lists_who_did_what_newest_first(web, org, make_key, owner, make_org):
    key, _ = make_key(org, name="Audited")
    web.post(f"/settings/developer/keys/{key.key_id}/rename/", {"name": "Audited 2"})
    web.post(f"/settings/developer/keys/{key.key_id}/revoke/")
    other_key, _ = make_key(make_org(), name="Elsewhere")
    apikey_revoke(key=other_key, actor=SYSTEM)
    page = web.get("/settings/developer/activity/").content.decode()
    assert page.index("api_key.revoked") < page.index("api_key.renamed")
    assert page.index("api_key.renamed") < page.index("api_key.created")
    assert owner.email in page
    assert "127.0.0.1" in page
    assert "Elsewhere" not in page
    assert "API key revoked" in page and "API key renamed" in page  # in words, code beside


@pytest.mark.parametrize(
    ("action", "words"),
    [
        ("api_key.secret_rotated", "API key secret rotated"),
        ("webhook_endpoint.created", "Webhook endpoint created"),
        ("organization.two_factor_required", "Organization two factor required"),
        ("user.signin_failed", "User signin failed"),
    ],
)
def test_an_audit_action_reads_as_words(action, words):
    assert AuditEvent(action=action).action_label == words


def test_members_can_read_usage_logs_and_activity(signed_in, org, make_user):
    client = signed_in(make_user(org, role=Membership.Role.MEMBER))
    for path in ["usage/", "requests/", "activity/"]:
        assert client.get(f"/settings/developer/{path}").status_code == 200


def test_a_custom_range_counts_only_its_days(web, org, make_key):
    key, _ = make_key(org)
    usage_row(key, hours_ago=24 * 10, requests=7)
    usage_row(key, hours_ago=2, requests=5)
    day = (timezone.now() - timedelta(hours=24 * 10)).date()

    page = web.get(f"/settings/developer/usage/?start={day}&end={day}")

    assert stat(page, "requests") == "7"
    assert len(bars(page)) == 24  # one bar per hour of the chosen day


def test_the_custom_range_form_keeps_the_pages_other_choices(web, org, make_key):
    make_key(org)
    page = web.get("/settings/developer/usage/?group=model&window=7d&page=2").content.decode()

    form = re.search(r'<form method="get" class="filters range-form".*?</form>', page, re.S)
    assert '<input type="hidden" name="group" value="model">' in form.group(0)
    assert 'name="window"' not in form.group(0) and 'name="page"' not in form.group(0)
    chosen = web.get("/settings/developer/usage/?group=model&start=2026-12-01&end=2026-12-02")
    assert 'aria-current="true">By model' in chosen.content.decode()


@pytest.mark.parametrize(
    "query",
    [
        "start=2026-02-30&end=2026-03-01",
        "start=2026-03-05&end=2026-03-01",
        "start=x&end=",
        "start=1900-01-01&end=2026-01-01",
    ],  # fmt: skip
)
def test_a_bad_custom_range_falls_back_to_the_default_and_says_why(web, org, make_key, query):
    key, _ = make_key(org)
    usage_row(key, hours_ago=1, requests=3)

    page = web.get(f"/settings/developer/usage/?{query}")

    assert page.status_code == 200
    assert stat(page, "requests") == "3"
    assert 'class="error"' in page.content.decode()


def test_the_chart_has_labelled_axes_with_ticks(web, org, make_key):
    key, _ = make_key(org)
    usage_row(key, hours_ago=1, requests=37)

    page = web.get("/settings/developer/usage/").content.decode()

    assert "Requests per hour" in page
    ticks = re.search(r'<div class="chart-y-ticks"[^>]*>(.*?)</div>', page).group(1)
    assert re.findall(r"<span>([^<]+)</span>", ticks) == ["40", "20", "0"]
    assert page.count('<div class="chart-x-ticks"') >= 1


def test_a_key_without_traffic_offers_a_curl_with_its_hint(web, org, make_key):
    key, _ = make_key(org)

    page = web.get(f"/settings/developer/keys/{key.key_id}/").content.decode()

    assert "No requests in" in page and "curl -s" in page and key.hint in page


@given(st.integers(min_value=0, max_value=10**12))
def test_the_value_axis_tops_out_at_a_round_count_whose_half_is_whole(peak):
    top = nice_ceiling(peak)
    assert top >= max(peak, 2)
    assert top % 2 == 0  # the middle tick is a whole number of requests or credits
    assert top <= max(4 * peak, 4)  # round, but not far above the busiest bar
