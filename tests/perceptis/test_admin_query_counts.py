"""Admin lists stay fast with many rows: a bounded number of queries, whatever the row count."""

import itertools

from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import AuditEvent, Membership, Organization, Plan, Project, User
from apikeys.keys.models import ApiKey
from billing.models import CreditAccount, LedgerEntry
from jobs.models import Job

ROWS = 5000
# Per page, whatever the rows: session, user, membership, two-factor check, permissions, the
# list and its filters, and the session saved again for the idle timeout.
MAX_QUERIES = 14
PAGES = [
    "/admin/accounts/organization/",
    "/admin/accounts/organization/?q=bulk-org-7",
    "/admin/accounts/organization/?q=member7%40bulk.test",
    "/admin/accounts/organization/?plan__api_access__exact=1",
    "/admin/apikeys/apikey/",
    "/admin/apikeys/apikey/?status=active&type__exact=live",
    "/admin/apikeys/apikey/?q=bulk-org-7",
    "/admin/jobs/job/",
    "/admin/jobs/job/?status__exact=queued",
    "/admin/billing/ledgerentry/",
    "/admin/billing/ledgerentry/?kind__exact=grant",
    "/admin/accounts/auditevent/",
    "/admin/accounts/auditevent/?org=bulk-org-7&action=bulk.event",
]
_ids = itertools.count(1)


def _populate(*, orgs: int, rows: int):
    """Insert ``rows`` keys, jobs, ledger entries and audit events spread over ``orgs`` orgs."""
    plans = list(Plan.objects.filter(code__in=["business", "enterprise", "free"]))
    n = next(_ids)
    new_orgs = Organization.objects.bulk_create(
        Organization(name=f"Bulk {n}-{i}", slug=f"bulk-org-{n}-{i}", plan=plans[i % len(plans)])
        for i in range(orgs)
    )
    # A few exact slugs the searches above use.
    Organization.objects.filter(pk=new_orgs[0].pk).update(slug=f"bulk-org-{7 * n}")
    accounts = CreditAccount.objects.bulk_create(
        CreditAccount(organization=o, balance=rows) for o in new_orgs
    )
    users = User.objects.bulk_create(
        User(email=f"member{n}-{i}@bulk.test", password="!") for i in range(orgs)
    )
    Membership.objects.bulk_create(
        Membership(user=u, organization=o, role="admin") for u, o in zip(users, new_orgs)
    )
    projects = Project.objects.bulk_create(
        Project(organization=o, project_id=f"proj_bulk{n}x{o.pk}", name="Default", is_default=True)
        for o in new_orgs
    )
    keys = ApiKey.objects.bulk_create(
        ApiKey(
            organization=new_orgs[i % orgs],
            project=projects[i % orgs],
            key_id=f"key_bulk{n}x{i}",
            name=f"bulk key {i}",
            hint="sk-live-per-…abcd",
            type="live" if i % 3 else "test",
            status="active" if i % 4 else "inactive",
            permissions=["jobs:write"],
        )
        for i in range(rows)
    )
    Job.objects.bulk_create(
        Job(
            job_id=f"job_bulk{n}x{i}",
            organization_id=keys[i].organization_id,
            api_key=keys[i],
            project_id=keys[i].project_id,
            status="queued" if i % 2 else "succeeded",
            prompt="p",
        )
        for i in range(rows)
    )
    LedgerEntry.objects.bulk_create(
        LedgerEntry(account=accounts[i % orgs], kind="grant", amount=1, balance_after=i, reason="b")
        for i in range(rows)
    )
    AuditEvent.objects.bulk_create(
        AuditEvent(
            organization=new_orgs[i % orgs],
            action="bulk.event",
            actor_type="system",
            actor_label="bulk",
        )
        for i in range(rows)
    )


def _queries(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(ctx.captured_queries)


def test_admin_lists_run_a_bounded_number_of_queries_with_many_rows(
    support, root, django_assert_max_num_queries
):
    _populate(orgs=3, rows=3)
    clients = {"support": support, "superuser": root}
    few = {(who, url): _queries(c, url) for who, c in clients.items() for url in PAGES}

    _populate(orgs=200, rows=ROWS)
    for who, client in clients.items():
        for url in PAGES:
            with django_assert_max_num_queries(MAX_QUERIES):
                many = _queries(client, url)
            # The same queries for 3 rows as for 5,000: nothing runs per row.
            assert many == few[(who, url)], (who, url)
