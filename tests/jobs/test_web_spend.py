"""Developer Settings: spend per key beside its limit, the limits, the folded ledger and CSV."""

import csv
import io

from accounts.models import AuditEvent, Membership
from apikeys.keys.models import ApiKey
from billing.models import CreditAccount
from billing.services import credits_grant, credits_spend_limit_set
from jobs.services import job_submit
from jobs.tasks import run_job
from tests.helpers import SYSTEM

SPEND = "/settings/developer/spend/"
FIVE = {"model": "gpt-4o", "max_tokens": 1000}  # reserves 5 credits for prompt "p"


def test_page_shows_each_keys_spend_beside_its_limit(web, org, make_key):
    key, _ = make_key(org, name="Billing", spend_limit_credits=40, spend_limit_period="day")
    job_submit(key=key, prompt="p", options=FIVE)  # 5 held
    done = job_submit(key=key, prompt="p", options=FIVE).job
    run_job(done.job_id)  # charged 1

    page = web.get(SPEND)

    assert page.status_code == 200
    html = page.content.decode()
    row = html[html.index(f'data-key="{key.key_id}"') :]
    assert 'data-stat="spent">6</td>' in row[:1500]
    assert 'data-stat="limit">40</td>' in row[:1500]
    assert "Day (UTC)" in row[:1500]


def test_manager_sets_a_keys_limit_and_it_is_audited(web, org, make_key):
    key, _ = make_key(org)

    response = web.post(
        f"{SPEND}keys/{key.key_id}/",
        {f"{key.key_id}-spend_limit_credits": "25", f"{key.key_id}-spend_limit_period": "total"},
    )

    assert response.status_code == 302
    key.refresh_from_db()
    assert (key.spend_limit_credits, key.spend_limit_period) == (25, "total")
    assert AuditEvent.objects.filter(action="api_key.updated", target_id=key.key_id).exists()


def test_a_bad_key_limit_is_shown_and_changes_nothing(web, org, make_key):
    key, _ = make_key(org, spend_limit_credits=9)

    response = web.post(
        f"{SPEND}keys/{key.key_id}/",
        {f"{key.key_id}-spend_limit_credits": "-3", f"{key.key_id}-spend_limit_period": "month"},
    )

    assert response.status_code == 400
    assert "The spend limit is from 0" in response.content.decode()
    key.refresh_from_db()
    assert key.spend_limit_credits == 9


def test_member_sees_spend_but_cannot_change_limits(signed_in, org, make_user, make_key):
    key, _ = make_key(org)
    client = signed_in(make_user(org, role=Membership.Role.MEMBER))

    assert client.get(SPEND).status_code == 200
    refused = client.post(f"{SPEND}keys/{key.key_id}/", {f"{key.key_id}-spend_limit_credits": "1"})
    assert refused.status_code == 403
    assert client.post(f"{SPEND}limit/", {"monthly_spend_limit": "1"}).status_code == 403
    key.refresh_from_db()
    assert key.spend_limit_credits is None
    assert CreditAccount.objects.get(organization=org).monthly_spend_limit is None


def test_only_an_owner_sets_the_organizations_monthly_limit(signed_in, web, org, make_user):
    admin = signed_in(make_user(org, role=Membership.Role.ADMIN))
    assert admin.post(f"{SPEND}limit/", {"monthly_spend_limit": "10"}).status_code == 403

    response = web.post(f"{SPEND}limit/", {"monthly_spend_limit": "500"})

    assert response.status_code == 302
    assert CreditAccount.objects.get(organization=org).monthly_spend_limit == 500
    assert AuditEvent.objects.filter(action="credits.spend_limit_changed").count() == 1
    assert 'data-stat="monthly-limit">500<' in web.get(SPEND).content.decode()


def test_another_organizations_key_is_404(web, make_org, make_key):
    theirs, _ = make_key(make_org())

    response = web.post(
        f"{SPEND}keys/{theirs.key_id}/",
        {f"{theirs.key_id}-spend_limit_credits": "0", f"{theirs.key_id}-spend_limit_period": "day"},
    )

    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.spend_limit_credits is None


def test_ledger_shows_one_line_per_finished_job_with_its_net_charge(web, org, make_key):
    key, _ = make_key(org)
    done = job_submit(key=key, prompt="p", options=FIVE).job
    run_job(done.job_id)
    failed = job_submit(key=key, prompt="p", options={**FIVE, "simulate_error": "fatal"}).job
    run_job(failed.job_id)
    job_submit(key=key, prompt="p", options=FIVE)  # still queued: held, not a line

    html = web.get(SPEND).content.decode()
    ledger = html[html.index('id="ledger"') :]

    assert ledger.count(f"<code>{done.job_id}</code>") == 1
    assert ledger.count(f"<code>{failed.job_id}</code>") == 1
    assert ledger.count("<code>job_") == 2
    assert 'data-stat="net">-1</td>' in ledger
    assert 'data-stat="net">0</td>' in ledger
    assert 'data-stat="held">5<' in html


def test_ledger_downloads_as_csv_with_text_cells_quoted(web, org, make_key):
    credits_grant(organization=org, amount=5, reason="=HYPERLINK(1)", actor=SYSTEM)
    key, _ = make_key(org)
    done = job_submit(key=key, prompt="p", options=FIVE).job
    run_job(done.job_id)

    response = web.get(f"{SPEND}ledger.csv")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:3] == ["time_utc", "entry", "job_id"]
    [job_row] = [r for r in rows if r[2] == done.job_id]
    assert job_row[1] == "job" and job_row[3] == "gpt-4o" and job_row[6] == "-1"
    [grant] = [r for r in rows if r[8].endswith("HYPERLINK(1)")]
    assert grant[8] == "'=HYPERLINK(1)"


def test_csv_holds_only_this_organizations_lines(web, org, make_org, make_key):
    other = make_org()
    key, _ = make_key(other)
    theirs = job_submit(key=key, prompt="p", options=FIVE).job
    run_job(theirs.job_id)

    body = b"".join(web.get(f"{SPEND}ledger.csv").streaming_content).decode()

    assert theirs.job_id not in body


def test_create_form_sets_a_spend_limit(web, org):
    page = web.get("/settings/developer/keys/new/").content.decode()
    assert 'name="spend_limit_credits"' in page
    nonce = page.split('name="nonce" value="', 1)[1].split('"', 1)[0]

    response = web.post(
        "/settings/developer/keys/new/",
        {
            "nonce": nonce,
            "name": "Capped",
            "type": "live",
            "environment": "production",
            "permissions": ["jobs:write"],
            "spend_limit_credits": "75",
            "spend_limit_period": "day",
        },
    )

    assert response.status_code == 200
    key = ApiKey.objects.get(organization=org, name="Capped")
    assert (key.spend_limit_credits, key.spend_limit_period) == (75, "day")


def test_org_limit_set_by_service_shows_on_the_page(web, org):
    credits_spend_limit_set(organization=org, monthly_limit=0, actor=SYSTEM)

    assert 'data-stat="monthly-limit">0<' in web.get(SPEND).content.decode()


def test_usage_page_shows_finished_jobs_folded_to_their_net_charge(web, org, make_key):
    key, _ = make_key(org)
    done = job_submit(key=key, prompt="p", options=FIVE).job
    run_job(done.job_id)

    html = web.get("/settings/developer/usage/").content.decode()
    credits = html[html.index('id="credits"') :]

    assert f"<code>{done.job_id}</code>" in credits
    assert '<td class="num"><div>-1</div></td>' in credits
    assert "Reserve" not in credits and "Capture" not in credits
