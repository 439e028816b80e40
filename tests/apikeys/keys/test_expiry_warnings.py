"""Owners and admins are warned 7 days and 1 day before a key expires, once each."""

import threading
from datetime import timedelta
from unittest import mock

import pytest
from django.core import mail
from django.db import connection
from django.utils import timezone

from accounts.models import AuditEvent
from apikeys.keys.models import KeyExpiryWarning
from apikeys.keys.services import apikey_update
from apikeys.keys.services.expiry import apikey_expiry_warnings_send
from apikeys.keys.tasks import warn_expiring_keys
from tests.helpers import SYSTEM, requires_postgres

pytestmark = pytest.mark.django_db


@pytest.fixture
def managers(org, make_user):
    make_user(org, role="owner", email="owner@acme.example")
    make_user(org, role="admin", email="admin@acme.example")
    make_user(org, role="member", email="member@acme.example")


def _key_expiring(make_key, org, days: float, *, made_days_ago: int = 30, **fields):
    now = timezone.now()
    key, _ = make_key(org, expires_at=now + timedelta(days=days), **fields)
    key.created_at = now - timedelta(days=made_days_ago)
    key.save(update_fields=["created_at"])
    return key


def test_one_email_seven_days_and_one_a_day_before(org, make_key, managers):
    key = _key_expiring(make_key, org, 10, name="Nightly export")
    start = timezone.now()
    assert apikey_expiry_warnings_send(now=start) == 0
    week_before = key.expires_at - timedelta(days=7) + timedelta(minutes=5)
    assert apikey_expiry_warnings_send(now=week_before) == 1
    assert apikey_expiry_warnings_send(now=week_before + timedelta(hours=1)) == 0
    day_before = key.expires_at - timedelta(days=1) + timedelta(minutes=5)
    assert apikey_expiry_warnings_send(now=day_before) == 1
    assert apikey_expiry_warnings_send(now=day_before + timedelta(minutes=30)) == 0
    assert len(mail.outbox) == 2
    first, second = mail.outbox
    assert sorted(first.to) == ["admin@acme.example", "owner@acme.example"]
    assert "in 7 days" in first.subject and "within a day" in second.subject
    assert key.key_id in first.body and "Nightly export" in first.body
    events = AuditEvent.objects.filter(action="api_key.expiry_warning_sent", target_id=key.key_id)
    assert sorted(e.metadata["days_before"] for e in events) == [1, 7]


def test_the_scheduled_task_sends_the_due_warnings_once(org, make_key, managers):
    _key_expiring(make_key, org, 3)
    assert warn_expiring_keys() == 1
    assert warn_expiring_keys() == 0
    assert len(mail.outbox) == 1


def test_a_new_expiry_gets_warnings_of_its_own(org, make_key, managers):
    key = _key_expiring(make_key, org, 3)
    apikey_expiry_warnings_send()
    apikey_update(key=key, actor=SYSTEM, expires_at=timezone.now() + timedelta(days=5))
    assert apikey_expiry_warnings_send() == 1
    assert KeyExpiryWarning.objects.filter(key=key).count() == 2


def test_keys_that_do_not_need_a_warning_get_none(org, make_key, managers, make_org):
    _key_expiring(make_key, org, 30)  # not yet
    _key_expiring(make_key, org, 3, made_days_ago=1)  # made with less than a week to live
    never, _ = make_key(org)
    revoked = _key_expiring(make_key, org, 3)
    revoked.status = "revoked"
    revoked.save(update_fields=["status"])
    assert apikey_expiry_warnings_send() == 0
    assert mail.outbox == []


def test_a_failed_email_is_tried_again_on_the_next_run(org, make_key, managers):
    _key_expiring(make_key, org, 3)
    with mock.patch(
        "apikeys.keys.services.expiry.expiry_warning_send", side_effect=OSError("smtp down")
    ):
        assert apikey_expiry_warnings_send() == 0
    assert not KeyExpiryWarning.objects.exists()
    assert apikey_expiry_warnings_send() == 1


def test_the_key_table_says_expires_in_n_days_within_a_week(org, make_key, web):
    _key_expiring(make_key, org, 3.5, name="Soon")
    _key_expiring(make_key, org, 20, name="Later")
    page = web.get("/settings/developer/").content.decode()
    assert page.count("expires in ") == 1
    assert "expires in 4 days" in page


@requires_postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_runs_send_each_warning_once(org, make_key, managers):
    _key_expiring(make_key, org, 3)
    barrier = threading.Barrier(4)
    results = []

    def run():
        try:
            barrier.wait()
            results.append(apikey_expiry_warnings_send())
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [0, 0, 0, 1]
    assert len(mail.outbox) == 1
    assert KeyExpiryWarning.objects.count() == 1


def test_warning_rows_are_unique(org, make_key):
    from django.db import IntegrityError, transaction

    key = _key_expiring(make_key, org, 3)
    KeyExpiryWarning.objects.create(key=key, expires_at=key.expires_at, days_before=7)
    with pytest.raises(IntegrityError), transaction.atomic():
        KeyExpiryWarning.objects.create(key=key, expires_at=key.expires_at, days_before=7)
