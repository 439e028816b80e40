"""Support works on organizations in admin: find them, change the plan, grant or adjust credits."""

from django.db.models import Sum

from accounts.models import AuditEvent, Plan
from billing.models import CreditAccount, LedgerEntry

ORGS = "/admin/accounts/organization/"


def _credits_url(org):
    return f"{ORGS}{org.pk}/credits/"


def _ledger_sum(org):
    return LedgerEntry.objects.filter(account__organization=org).aggregate(s=Sum("amount"))["s"]


def test_organization_list_shows_plan_balance_active_keys_and_eligibility(
    support, make_org, make_key
):
    org = make_org(plan="business", credits=250, name="Acme Rockets")
    make_key(org)
    make_key(org)
    revoked, _ = make_key(org)
    revoked.status = "revoked"
    revoked.save(update_fields=["status"])
    make_org(plan="free", credits=0, name="Tiny Shop")

    response = support.get(ORGS)
    assert response.status_code == 200
    rows = {o.name: o for o in response.context["cl"].result_list}
    assert rows["Acme Rockets"].balance == 250
    assert rows["Acme Rockets"].active_keys == 2
    assert rows["Tiny Shop"].active_keys == 0
    html = response.content.decode()
    assert "Business" in html and "Free" in html
    assert 'alt="True"' in html and 'alt="False"' in html  # API access column


def test_organizations_are_found_by_name_slug_or_member_email(support, make_org, make_user):
    acme = make_org(name="Acme Rockets")
    make_user(acme, email="wile@acme.test")
    make_org(name="Globex")
    for q in ("Rockets", acme.slug, "wile@acme.test"):
        found = list(support.get(ORGS, {"q": q}).context["cl"].result_list)
        assert [o.pk for o in found] == [acme.pk], q


def test_organization_page_lists_memberships_read_only(support, org, make_user):
    make_user(org, email="owner@example.com", role="owner")
    response = support.get(f"{ORGS}{org.pk}/change/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "owner@example.com" in html
    assert "Grant or adjust credits" in html
    assert 'name="memberships-0-role"' not in html  # shown, not editable


def test_support_changes_the_plan_through_the_plan_service(
    support, support_user, make_org, make_key, client_for
):
    org = make_org(plan="business")
    _, plaintext = make_key(org)
    free = Plan.objects.get(code="free")

    response = support.post(f"{ORGS}{org.pk}/change/", _change_form(support, org, plan=free.pk))
    assert response.status_code == 302
    org.refresh_from_db()
    assert org.plan == free
    event = AuditEvent.objects.get(action="organization.plan_changed", organization=org)
    assert event.actor_user == support_user
    assert event.metadata == {"from": "business", "to": "free"}
    # Eligibility changes on the next API request.
    api_response = client_for(plaintext).get("/api/v1/status/job_unknown")
    assert api_response.status_code == 403
    assert api_response.json()["error"]["code"] == "plan_not_eligible"


def test_saving_an_organization_without_changing_the_plan_writes_no_audit_row(support, org):
    support.post(f"{ORGS}{org.pk}/change/", _change_form(support, org, plan=org.plan_id))
    assert not AuditEvent.objects.filter(action="organization.plan_changed").exists()


def test_organization_name_and_slug_are_not_editable(support, org):
    data = _change_form(support, org, plan=org.plan_id)
    data.update(name="Hijacked", slug="hijacked")
    support.post(f"{ORGS}{org.pk}/change/", data)
    org.refresh_from_db()
    assert (org.name, org.slug) != ("Hijacked", "hijacked")


def _change_form(client, org, **fields):
    """Return the POST data of the organization change form, as the browser would send it."""
    form = client.get(f"{ORGS}{org.pk}/change/").context["adminform"].form
    data = {name: form[name].value() for name in form.fields}
    data = {name: "" if value is None else value for name, value in data.items()}
    inline = "memberships"
    data.update(
        {
            f"{inline}-TOTAL_FORMS": str(org.memberships.count()),
            f"{inline}-INITIAL_FORMS": str(org.memberships.count()),
            f"{inline}-MIN_NUM_FORMS": "0",
            f"{inline}-MAX_NUM_FORMS": "1000",
        }
    )
    for i, membership in enumerate(org.memberships.order_by("pk")):
        data[f"{inline}-{i}-id"] = str(membership.pk)
        data[f"{inline}-{i}-organization"] = str(org.pk)
    data.update(fields)
    return data


def test_support_grants_credits_with_a_reason(support, support_user, make_org):
    org = make_org(credits=100)
    response = support.post(
        _credits_url(org), {"operation": "grant", "amount": "50", "reason": "Outage goodwill"}
    )
    assert response.status_code == 302
    entry = LedgerEntry.objects.get(account__organization=org, reason="Outage goodwill")
    assert (entry.kind, entry.amount, entry.balance_after) == ("grant", 50, 150)
    assert entry.actor_user == support_user
    event = AuditEvent.objects.get(action="credits.granted", organization=org, actor_type="user")
    assert event.actor_user == support_user
    assert event.metadata["reason"] == "Outage goodwill"
    assert CreditAccount.objects.get(organization=org).balance == _ledger_sum(org) == 150


def test_support_adjusts_credits_down_but_never_below_zero(support, make_org):
    org = make_org(credits=100)
    support.post(_credits_url(org), {"operation": "adjust", "amount": "-30", "reason": "Refund"})
    assert _ledger_sum(org) == 70
    assert AuditEvent.objects.filter(action="credits.adjusted", organization=org).count() == 1

    response = support.post(
        _credits_url(org), {"operation": "adjust", "amount": "-71", "reason": "Too much"}
    )
    assert response.status_code == 200
    assert "cannot go below 0" in response.content.decode()
    assert _ledger_sum(org) == 70
    assert AuditEvent.objects.filter(action="credits.adjusted", organization=org).count() == 1


def test_credit_changes_need_a_reason(support, make_org):
    org = make_org(credits=100)
    entries = LedgerEntry.objects.count()
    for reason in ("", "   "):
        response = support.post(
            _credits_url(org), {"operation": "grant", "amount": "10", "reason": reason}
        )
        assert response.status_code == 200
        assert response.context["form"].errors["reason"]
    assert LedgerEntry.objects.count() == entries


def test_a_grant_must_be_positive_and_bad_amounts_are_form_errors(support, make_org):
    org = make_org(credits=100)
    entries = LedgerEntry.objects.count()
    for amount in ("-5", "0", "abc", "99999999999999999999"):
        response = support.post(
            _credits_url(org), {"operation": "grant", "amount": amount, "reason": "x"}
        )
        assert response.status_code == 200, amount
        assert response.context["form"].errors, amount
    assert LedgerEntry.objects.count() == entries


def test_credits_page_shows_the_ledger_sum(support, make_org):
    org = make_org(credits=120)
    response = support.get(_credits_url(org))
    assert response.status_code == 200
    assert response.context["balance"] == _ledger_sum(org) == 120
    detail = support.get(f"{ORGS}{org.pk}/change/").content.decode()
    assert "120" in detail


def test_staff_without_the_group_cannot_grant_credits(bare, make_org):
    org = make_org(credits=100)
    assert bare.get(_credits_url(org)).status_code == 403
    response = bare.post(_credits_url(org), {"operation": "grant", "amount": "5", "reason": "x"})
    assert response.status_code == 403
    assert _ledger_sum(org) == 100


def test_credits_page_of_an_unknown_organization_is_404(root, db):
    assert root.get(f"{ORGS}999999/credits/").status_code == 404
    assert root.get(f"{ORGS}not-a-number/credits/").status_code == 404
