"""The usage page draws the costs API's answer: by key or by model, a stacked chart with
labelled axes, a table of the same groups, and a CSV of the API's rows."""

import csv
import io
import re

import pytest

from jobs.services import job_submit
from jobs.tasks import run_job

USAGE = "/settings/developer/usage/"
CSV = "/settings/developer/usage/costs.csv"


@pytest.fixture
def spent(org, make_key):
    """Three finished jobs: two keys, two models, and a test key's free job."""
    first, _ = make_key(org, name="Billing service")
    second, _ = make_key(org, name="Search indexer")
    sandbox, _ = make_key(org, type="test", name="Sandbox")
    jobs = [
        job_submit(key=first, prompt="p", options={"model": "gpt-4o", "max_tokens": 50}).job,
        job_submit(key=second, prompt="p", options={"max_tokens": 50}).job,
        job_submit(key=first, prompt="p", options={"max_tokens": 50}).job,
        job_submit(key=sandbox, prompt="p", options={"max_tokens": 50}).job,
    ]
    for job in jobs:
        run_job(job.job_id)
        job.refresh_from_db()
    return {"first": first, "second": second, "sandbox": sandbox, "jobs": jobs}


def table_rows(html: str) -> list[list[str]]:
    table = re.search(r'<table class="cards" id="costs-table">(.*?)</table>', html, re.S).group(1)
    body = re.search(r"<tbody>(.*?)</tbody>", table, re.S).group(1)
    return [
        [
            re.sub(r"<[^>]+>", "", cell).strip()
            for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        ]
        for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)
    ]


def test_costs_by_key_are_a_stacked_chart_and_a_table_of_the_apis_figures(web, spent):
    first, second = spent["first"], spent["second"]
    by_key = {}
    for job in spent["jobs"]:
        by_key[job.api_key_id] = by_key.get(job.api_key_id, 0) + job.credits_charged

    html = web.get(USAGE + "?window=24h").content.decode()

    assert 'data-chart="credits-stacked"' in html
    assert "Credits per hour" in html and "Hour (UTC)" in html
    ticks = re.search(
        r'<div class="chart-y-ticks"[^>]*>(.*?)</div>', html.split("costs-chart")[1], re.S
    )
    assert ticks and re.findall(r"<span>([^<]+)</span>", ticks.group(1))[-1] == "0"
    assert html.count('class="series-0"') >= 1 and 'class="swatch series-1"' in html
    rows = table_rows(html)
    assert rows[0][:3] == ["Billing service", str(by_key[first.pk]), "2"]
    assert rows[1][:3] == ["Search indexer", str(by_key[second.pk]), "1"]
    assert rows[2][:3] == ["Sandbox (test)", "0", "1"]
    assert f'data-stat="cost-credits">{sum(by_key.values())}<' in html


def test_costs_by_model_group_the_same_credits(web, spent):
    html = web.get(USAGE + "?window=7d&group=model").content.decode()

    models = {row[0]: int(row[1]) for row in table_rows(html)}
    expected = {}
    for job in spent["jobs"]:
        label = job.model + (" (test)" if job.test else "")
        expected[label] = expected.get(label, 0) + job.credits_charged
    assert models == expected
    assert "Credits per day" in html and "Day (UTC)" in html


def test_the_csv_has_the_apis_rows_for_the_pages_range_and_grouping(web, org, spent):
    response = web.get(CSV + "?window=30d&group=model")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv"
    assert "costs-by-model" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert {row["key_id"] for row in rows} == {""}
    total = sum(int(row["credits"]) for row in rows)
    assert total == sum(job.credits_charged for job in spent["jobs"])
    assert {row["test"] for row in rows} == {"true", "false"}


def test_a_key_named_like_a_formula_is_quoted_in_the_csv(web, org, make_key):
    key, _ = make_key(org, name="=HYPERLINK(1)")
    run_job(job_submit(key=key, prompt="p", options={"max_tokens": 5}).job.job_id)

    body = b"".join(web.get(CSV + "?group=key").streaming_content).decode()

    assert "'=HYPERLINK(1)" in body


def test_the_page_shows_only_the_organizations_costs(web, spent, make_org, make_key):
    stranger, _ = make_key(make_org(), name="Stranger key")
    run_job(job_submit(key=stranger, prompt="p", options={"max_tokens": 5}).job.job_id)

    html = web.get(USAGE).content.decode()
    body = b"".join(web.get(CSV + "?group=key").streaming_content).decode()

    assert "Stranger key" not in html and "Stranger key" not in body


def test_an_unknown_grouping_falls_back_to_keys(web, spent):
    response = web.get(USAGE + "?group=project")

    assert response.status_code == 200
    assert "Costs by key" in response.content.decode()


def test_members_read_the_costs_and_the_csv(signed_in, org, make_user, spent):
    from accounts.models import Membership

    member = signed_in(make_user(org, role=Membership.Role.MEMBER))

    assert member.get(USAGE).status_code == 200
    assert member.get(CSV).status_code == 200
