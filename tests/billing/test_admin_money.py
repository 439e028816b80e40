"""Admin shows what jobs cost: the ledger's net per job, the job's model and tokens, key limits."""

from billing.models import LedgerEntry
from jobs.services import job_submit
from jobs.tasks import run_job
from tests.helpers import SCAN

FIVE = {"model": "gpt-4o", "max_tokens": 1000}


def test_ledger_list_shows_each_finished_jobs_net_charge(support, org, make_key):
    key, _ = make_key(org)
    job = job_submit(key=key, prompt="p", options=FIVE).job
    run_job(job.job_id)
    capture = LedgerEntry.objects.get(job=job, kind="capture")
    assert capture.amount == 4  # 5 reserved, 1 charged, 4 back

    page = support.get(f"/admin/billing/ledgerentry/?q={job.job_id}")

    assert page.status_code == 200
    html = page.content.decode()
    assert '<td class="field-net_display">-1</td>' in html
    assert '<td class="field-net_display">—</td>' in html  # the reserve row


def test_job_record_shows_model_tokens_and_charges(support, org, make_key):
    key, _ = make_key(org)
    job = job_submit(key=key, prompt="p", options=FIVE).job
    run_job(job.job_id)
    job.refresh_from_db()

    html = support.get(f"/admin/jobs/job/{job.pk}/change/").content.decode()

    assert "gpt-4o" in html
    assert f'<div class="readonly">{job.output_tokens}</div>' in html
    assert "Credits reserved" in html and "Credits charged" in html


def test_key_record_shows_its_spend_limit(support, org, make_key):
    key, _ = make_key(org, spend_limit_credits=321, spend_limit_period="total")

    html = support.get(f"/admin/apikeys/apikey/{key.pk}/change/").content.decode()

    assert "321" in html and "Spend limit period" in html


def test_support_reads_prices_but_only_a_superuser_may_add_one(support, root, bare):
    listing = support.get("/admin/billing/modelprice/")
    assert listing.status_code == 200
    assert "gpt-4o-mini" in listing.content.decode()
    assert bare.get("/admin/billing/modelprice/").status_code == 403
    assert support.get("/admin/billing/modelprice/add/").status_code == 403
    assert root.get("/admin/billing/modelprice/add/").status_code == 200


def test_ledger_search_finds_a_jobs_rows_or_an_organizations_without_a_scan(
    support, org, make_org, make_key
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    key, _ = make_key(org)
    job = job_submit(key=key, prompt="p", options=FIVE).job
    other = make_org(name="Globex Research")
    LEDGER = "/admin/billing/ledgerentry/"

    def search(term):
        with CaptureQueriesContext(connection) as captured:
            page = support.get(LEDGER, {"q": term})
        assert page.status_code == 200
        ledger_sql = [q["sql"] for q in captured if 'FROM "billing_ledgerentry"' in q["sql"]]
        assert ledger_sql and not any(SCAN.search(sql) for sql in ledger_sql), ledger_sql
        return {(e.account.organization_id, e.kind) for e in page.context["cl"].result_list}

    assert search(job.job_id) == {(org.pk, "reserve")}
    assert search("globex") == {(other.pk, "grant")}
    assert search(org.slug) == {(org.pk, "grant"), (org.pk, "reserve")}
    assert search("job_nosuchjob000000000000000") == set()
