"""The audit log only grows: no row can be changed or removed, one at a time or in bulk."""

import pytest

from accounts.audit import audit_record
from accounts.models import AuditEvent
from tests.helpers import SYSTEM


@pytest.fixture
def event(org):
    return audit_record(actor=SYSTEM, action="test.recorded", organization=org, target=org)


def test_an_audit_event_cannot_be_saved_again(event):
    event.action = "test.rewritten"
    with pytest.raises(ValueError, match="append-only"):
        event.save()
    assert AuditEvent.objects.get(pk=event.pk).action == "test.recorded"


def test_an_audit_event_cannot_be_deleted(event):
    with pytest.raises(ValueError, match="append-only"):
        event.delete()
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_audit_events_cannot_be_updated_or_deleted_in_bulk(event):
    with pytest.raises(ValueError, match="append-only"):
        AuditEvent.objects.filter(pk=event.pk).update(action="test.rewritten")
    with pytest.raises(ValueError, match="append-only"):
        AuditEvent.objects.filter(pk=event.pk).delete()
    assert AuditEvent.objects.get(pk=event.pk).action == "test.recorded"
