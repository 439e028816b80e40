"""The ledger and the audit log in admin: read-only, filterable."""

from datetime import timedelta

from django.utils import timezone

from accounts.audit import Actor, audit_record
from accounts.models import AuditEvent

LEDGER = "/admin/billing/ledgerentry/"
AUDIT = "/admin/accounts/auditevent/"


def test_ledger_lists_entries_with_organization_and_filters_by_kind(support, make_org):
    from billing.services import credits_adjust

    org = make_org(credits=100, name="Acme Rockets")
    credits_adjust(organization=org, amount=-10, reason="Refund", actor=Actor.system())
    response = support.get(LEDGER)
    assert response.status_code == 200
    assert "Acme Rockets" in response.content.decode()
    adjustments = support.get(LEDGER, {"kind__exact": "adjustment"}).context["cl"].result_list
    assert [(e.kind, e.amount) for e in adjustments] == [("adjustment", -10)]
    by_org = support.get(LEDGER, {"q": org.slug}).context["cl"].result_list
    assert {e.account.organization_id for e in by_org} == {org.pk}


def test_ledger_entry_detail_is_read_only(support, org):
    entry = org.credit_account.entries.first()
    response = support.get(f"{LEDGER}{entry.pk}/change/")
    assert response.status_code == 200
    assert b'name="_save"' not in response.content


def _events(response):
    return list(response.context["cl"].result_list)


def test_audit_log_filters_by_organization_actor_action_and_date(support, support_user, make_org):
    acme, globex = make_org(name="Acme"), make_org(name="Globex")
    staff = Actor(user=support_user, ip="198.51.100.1")
    audit_record(actor=staff, action="support.note", organization=acme, target=acme)
    audit_record(actor=Actor.system("cron"), action="support.note", organization=globex)
    # An event from 40 days ago (the log refuses updates, so it is written with its date).
    AuditEvent.objects.create(
        organization=acme,
        action="support.old",
        actor_type=staff.type,
        actor_user=support_user,
        actor_label=staff.label,
        created_at=timezone.now() - timedelta(days=40),
    )

    by_org = _events(support.get(AUDIT, {"org": acme.slug}))
    assert by_org and {e.organization_id for e in by_org} == {acme.pk}
    by_actor = _events(support.get(AUDIT, {"actor": "SUPPORT@example.com"}))
    assert {e.action for e in by_actor} == {"support.note", "support.old"}
    by_action = _events(support.get(AUDIT, {"action": "support.note"}))
    assert {e.organization_id for e in by_action} == {acme.pk, globex.pk}
    since = str(timezone.now() - timedelta(days=7))  # as the date filter writes it
    recent = _events(support.get(AUDIT, {"created_at__gte": since, "action": "support.old"}))
    assert recent == []
    # The filters combine, and the text boxes keep the other filters.
    page = support.get(AUDIT, {"org": acme.slug, "action": "support.note"})
    assert [e.organization_id for e in _events(page)] == [acme.pk]
    assert f'name="org" value="{acme.slug}"' in page.content.decode()


def test_audit_event_detail_is_read_only(support, org):
    event = AuditEvent.objects.filter(organization=org).first()
    response = support.get(f"{AUDIT}{event.pk}/change/")
    assert response.status_code == 200
    assert b'name="_save"' not in response.content
    assert support.post(f"{AUDIT}{event.pk}/change/", {"action": "x"}).status_code == 403
