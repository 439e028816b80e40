"""Rules fire when their metric crosses the threshold, once per rule and window."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail
from django.db import connection
from django.utils import timezone

from alerts.evaluation import alerts_evaluate, window_bounds
from alerts.models import AlertDelivery
from alerts.services import alertrule_create
from apikeys.keys.models import ApiKey
from apikeys.keys.services import apikey_revoke
from tests.helpers import SYSTEM, requires_postgres, run_outbound_queue
from webhooks.delivery import webhooks_deliver_due

# 10:20 UTC: an hourly window runs 10:00-11:00, a 6-hour one 06:00-12:00.
NOW = datetime(2026, 3, 10, 10, 20, tzinfo=UTC)
HOUR = NOW.replace(minute=0)


def rule_for(org, metric, threshold, **extra):
    fields = {"channel": "email", "destination": "ops@example.com", "window_minutes": 60}
    fields.update(extra)
    return alertrule_create(
        organization=org,
        actor=SYSTEM,
        name=f"{metric} rule",
        metric=metric,
        threshold=threshold,
        **fields,
    )


@pytest.fixture
def key(org, make_key):
    return make_key(org)[0]


def _usage_scenario(metric, add_usage, key):
    # 10 requests, 3 errors (30%); all in the 100-250 ms bucket (p95 about 242 ms).
    add_usage(key, HOUR, requests=10, errors=3, bucket=5)


CASES = {
    # metric: (set-up, threshold that fires, threshold that does not)
    "requests": (_usage_scenario, 9, 10),
    "error_rate": (_usage_scenario, 29.9, 30),
    "p95_latency": (_usage_scenario, 200, 250),
}


@pytest.mark.parametrize("metric", sorted(CASES))
def test_usage_rule_fires_over_threshold_and_not_at_or_under(metric, org, key, add_usage):
    setup, firing, quiet = CASES[metric]
    setup(metric, add_usage, key)
    fires = rule_for(org, metric, firing)
    stays = rule_for(org, metric, quiet)

    alerts_evaluate(now=NOW)
    webhooks_deliver_due()

    assert AlertDelivery.objects.filter(rule=fires).count() == 1
    assert not AlertDelivery.objects.filter(rule=stays).exists()
    assert len(mail.outbox) == 1


def test_request_count_rule_reports_the_window_value(org, key, add_usage):
    add_usage(key, HOUR, requests=42)
    rule = rule_for(org, "requests", 40)

    alerts_evaluate(now=NOW)

    delivery = AlertDelivery.objects.get(rule=rule)
    assert delivery.value == 42
    assert delivery.window_start == HOUR
    assert "42 requests" in delivery.message


def test_usage_before_the_window_is_not_counted(org, key, add_usage):
    add_usage(key, HOUR - timedelta(hours=1), requests=500)
    add_usage(key, HOUR, requests=5)
    rule = rule_for(org, "requests", 10)

    alerts_evaluate(now=NOW)

    assert not AlertDelivery.objects.filter(rule=rule).exists()


def test_longer_windows_are_aligned_to_multiples_of_their_length(org, key, add_usage):
    add_usage(key, datetime(2026, 3, 10, 5, tzinfo=UTC), requests=100)  # previous window
    add_usage(key, datetime(2026, 3, 10, 7, tzinfo=UTC), requests=6)
    add_usage(key, datetime(2026, 3, 10, 9, tzinfo=UTC), requests=6)
    rule = rule_for(org, "requests", 10, window_minutes=360)

    assert window_bounds(rule, NOW) == (
        datetime(2026, 3, 10, 6, tzinfo=UTC),
        datetime(2026, 3, 10, 12, tzinfo=UTC),
    )
    alerts_evaluate(now=NOW)

    delivery = AlertDelivery.objects.get(rule=rule)
    assert delivery.value == 12
    assert delivery.window_start == datetime(2026, 3, 10, 6, tzinfo=UTC)


def test_key_scoped_rule_ignores_other_keys(org, make_key, add_usage):
    watched, _ = make_key(org)
    other, _ = make_key(org)
    add_usage(other, HOUR, requests=100)
    add_usage(watched, HOUR, requests=3)
    scoped = rule_for(org, "requests", 10, api_key=watched)
    everything = rule_for(org, "requests", 10)

    alerts_evaluate(now=NOW)

    assert not AlertDelivery.objects.filter(rule=scoped).exists()
    assert AlertDelivery.objects.get(rule=everything).value == 103


def test_error_rate_rule_stays_quiet_without_requests(org, key):
    rule = rule_for(org, "error_rate", 0)

    alerts_evaluate(now=NOW)

    assert not AlertDelivery.objects.filter(rule=rule).exists()


def test_credits_rule_fires_below_threshold_and_not_above(make_org):
    poor = make_org(credits=40)
    rich = make_org(credits=500)
    fires = rule_for(poor, "credits_below", 50)
    stays = rule_for(rich, "credits_below", 50)

    alerts_evaluate(now=NOW)

    assert AlertDelivery.objects.get(rule=fires).value == 40
    assert not AlertDelivery.objects.filter(rule=stays).exists()


def test_key_expiring_rule_fires_within_the_days_and_not_beyond(org, make_key):
    now = timezone.now()
    make_key(org, expires_at=now + timedelta(days=3))
    fires = rule_for(org, "key_expiring", 5)
    stays = rule_for(org, "key_expiring", 2)

    alerts_evaluate(now=now)

    delivery = AlertDelivery.objects.get(rule=fires)
    assert delivery.value == 1
    # Expiry warnings use one-day windows, aligned to UTC midnight.
    assert delivery.window_start == now.replace(hour=0, minute=0, second=0, microsecond=0)
    assert not AlertDelivery.objects.filter(rule=stays).exists()


def test_key_expiring_rule_ignores_revoked_and_already_expired_keys(org, make_key):
    now = timezone.now()
    revoked, _ = make_key(org, expires_at=now + timedelta(days=1))
    apikey_revoke(key=revoked, actor=SYSTEM)
    expired, _ = make_key(org, expires_at=now + timedelta(days=1))
    ApiKey.objects.filter(pk=expired.pk).update(expires_at=now - timedelta(hours=1))
    rule = rule_for(org, "key_expiring", 5)

    alerts_evaluate(now=now)

    assert not AlertDelivery.objects.filter(rule=rule).exists()


def test_rule_fires_once_per_window(org, key, add_usage):
    add_usage(key, HOUR, requests=20)
    rule = rule_for(org, "requests", 10)

    alerts_evaluate(now=NOW)
    alerts_evaluate(now=NOW + timedelta(minutes=30))
    webhooks_deliver_due()

    assert AlertDelivery.objects.filter(rule=rule).count() == 1
    assert len(mail.outbox) == 1

    add_usage(key, HOUR + timedelta(hours=1), requests=20)
    alerts_evaluate(now=NOW + timedelta(hours=1))

    assert AlertDelivery.objects.filter(rule=rule).count() == 2


def test_disabled_rule_does_not_fire(org, key, add_usage):
    add_usage(key, HOUR, requests=20)
    rule = rule_for(org, "requests", 10, enabled=False)

    alerts_evaluate(now=NOW)

    assert not AlertDelivery.objects.filter(rule=rule).exists()


@requires_postgres
# Restore the plans and schedules that migrations seed, which a transactional test flushes.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_evaluators_record_one_firing(org, key, add_usage):
    add_usage(key, HOUR, requests=20)
    rule = rule_for(org, "requests", 10)
    barrier = threading.Barrier(4)
    errors = []

    def evaluate():
        try:
            barrier.wait()
            alerts_evaluate(now=NOW)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=evaluate) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert AlertDelivery.objects.filter(rule=rule).count() == 1
    assert run_outbound_queue() == 1  # the firing was queued once, after its commit
    assert len(mail.outbox) == 1
