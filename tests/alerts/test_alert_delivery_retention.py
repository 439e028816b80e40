"""Alert deliveries are purged like job webhook deliveries: finished ones past the retention
age, pending ones never (they still have attempts to make)."""

from datetime import timedelta

from django.utils import timezone
from django_q.models import Schedule

from alerts.models import AlertDelivery
from alerts.services import alertrule_create
from alerts.tasks import purge_alert_deliveries
from tests.helpers import SYSTEM

Status = AlertDelivery.Status


def _deliveries(org, *fired):
    rule = alertrule_create(
        organization=org,
        actor=SYSTEM,
        name="Spike",
        metric="requests",
        threshold=1,
        channel="email",
        destination="ops@acme.example",
    )
    return {
        (status, days): AlertDelivery.objects.create(
            rule=rule,
            status=status,
            window_start=timezone.now(),
            value=2,
            message="2 requests",
            fired_at=timezone.now() - timedelta(days=days),
        )
        for status, days in fired
    }


def test_finished_deliveries_past_the_age_are_purged_and_pending_ones_kept(org, settings):
    settings.WEBHOOKS_RETENTION_DAYS = 30
    made = _deliveries(
        org,
        (Status.SUCCEEDED, 31),
        (Status.FAILED, 31),
        (Status.PENDING, 31),
        (Status.SUCCEEDED, 29),
    )
    assert purge_alert_deliveries(batch_size=1) == 2
    kept = set(AlertDelivery.objects.values_list("pk", flat=True))
    assert kept == {made[(Status.PENDING, 31)].pk, made[(Status.SUCCEEDED, 29)].pk}


def test_a_retention_of_zero_keeps_every_delivery(org, settings):
    settings.WEBHOOKS_RETENTION_DAYS = 0
    _deliveries(org, (Status.SUCCEEDED, 400), (Status.FAILED, 400))
    assert purge_alert_deliveries() == 0
    assert AlertDelivery.objects.count() == 2


def test_the_worker_runs_the_purge_hourly(db):
    schedule = Schedule.objects.get(name="Purge old alert deliveries")
    assert (schedule.func, schedule.minutes) == ("alerts.tasks.purge_alert_deliveries", 60)
