"""Usage metering: counters per key and hour, latency histogram, flushes, last use."""

import logging
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apikeys.keys.models import ApiKey
from apikeys.usage import metering
from apikeys.usage.models import RequestLog, UsageHourly
from apikeys.usage.selectors import usage_summary

HOUR = datetime(2030, 5, 1, 10, tzinfo=UTC)


def _record(key, *, status=200, latency_ms=12.0, now=None):
    metering.record(
        api_key_id=key.pk,
        organization_id=key.organization_id,
        method="GET",
        path="/api/v1/usage",
        status=status,
        error_code="" if status < 400 else "some_error",
        latency_ms=latency_ms,
        client_ip="192.0.2.1",
        user_agent="tests",
        request_id="req_test",
        now=now or HOUR + timedelta(minutes=5),
    )


def test_api_requests_are_counted_per_key_and_hour_after_a_flush(live_key, client_for):
    key, plaintext = live_key
    client = client_for(plaintext)
    for _ in range(3):
        client.get("/api/v1/status/job_nope")
    assert not UsageHourly.objects.filter(api_key=key).exists()  # buffered, not yet written
    assert metering.flush() == 3
    row = UsageHourly.objects.get(api_key=key)
    assert row.hour == timezone.now().replace(minute=0, second=0, microsecond=0)
    assert (row.requests, row.errors, sum(row.histogram())) == (3, 3, 3)
    assert row.organization_id == key.organization_id


def test_serving_a_request_writes_no_usage_or_log_row(live_key, client_for):
    _, plaintext = live_key
    client = client_for(plaintext)
    client.get("/api/v1/status/job_nope")  # the first request of the minute records last use
    with CaptureQueriesContext(connection) as queries:
        client.get("/api/v1/status/job_nope")
    sql = " ".join(q["sql"] for q in queries).lower()
    assert "apikeys_usagehourly" not in sql
    assert "apikeys_requestlog" not in sql
    assert "update" not in sql


def test_hours_get_their_own_rows_and_flushes_add_up(live_key):
    key, _ = live_key
    _record(key)
    _record(key, status=500)
    metering.flush()
    _record(key)
    _record(key, now=HOUR + timedelta(hours=1, minutes=1))
    metering.flush()
    rows = {r.hour: r for r in UsageHourly.objects.filter(api_key=key)}
    assert (rows[HOUR].requests, rows[HOUR].errors) == (3, 1)
    assert rows[HOUR + timedelta(hours=1)].requests == 1


def test_latencies_land_in_their_histogram_buckets(live_key):
    key, _ = live_key
    for latency in (3, 5, 7, 30, 30, 20000):
        _record(key, latency_ms=latency)
    metering.flush()
    row = UsageHourly.objects.get(api_key=key)
    assert row.histogram() == [2, 1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1]
    assert row.latency_ms_total == 3 + 5 + 7 + 30 + 30 + 20000


def test_percentiles_come_from_the_histogram(live_key):
    key, _ = live_key
    for _ in range(90):
        _record(key, latency_ms=8)
    for _ in range(10):
        _record(key, latency_ms=900)
    metering.flush()
    summary = usage_summary(organization=key.organization, since=HOUR)
    assert 5 < summary.p50_ms <= 10
    assert 500 < summary.p95_ms <= 1000


def test_buffer_flushes_itself_when_full(live_key, client_for, settings):
    settings.APIKEYS_USAGE_FLUSH_MAX_RECORDS = 3
    key, plaintext = live_key
    client = client_for(plaintext)
    for _ in range(3):
        client.get("/api/v1/status/job_nope")
    assert UsageHourly.objects.get(api_key=key).requests == 3


def test_buffer_flushes_itself_when_old(live_key, client_for, settings):
    settings.APIKEYS_USAGE_FLUSH_SECONDS = 0
    key, plaintext = live_key
    client_for(plaintext).get("/api/v1/status/job_nope")
    assert UsageHourly.objects.get(api_key=key).requests == 1
    assert RequestLog.objects.filter(api_key=key).count() == 1


def test_a_failed_write_is_logged_and_never_raised(live_key, caplog):
    key, _ = live_key
    _record(key)
    # A status no column can hold makes the request-log insert fail; the usage still lands.
    _record(key, status=-1)
    with caplog.at_level(logging.ERROR, logger="apikeys.usage.metering"):
        assert metering.flush() == 2
    assert "2 log rows lost" in caplog.text
    assert UsageHourly.objects.get(api_key=key).requests == 2
    assert not RequestLog.objects.exists()


def test_schema_requests_are_not_metered(client):
    client.get("/api/v1/schema/")
    assert metering.flush() == 0


def test_last_use_is_written_at_most_once_a_minute(live_key, client_for, monkeypatch):
    key, plaintext = live_key
    client = client_for(plaintext)
    client.get("/api/v1/status/job_nope", HTTP_USER_AGENT="first-agent/1.0")
    key.refresh_from_db()
    first = key.last_used_at
    assert first is not None
    assert (key.last_used_ip, key.last_used_user_agent) == ("127.0.0.1", "first-agent/1.0")

    client.get("/api/v1/status/job_nope", HTTP_USER_AGENT="second-agent/1.0")
    key.refresh_from_db()
    assert (key.last_used_at, key.last_used_user_agent) == (first, "first-agent/1.0")

    later = first + timedelta(seconds=61)
    monkeypatch.setattr(timezone, "now", lambda: later)
    client.get("/api/v1/status/job_nope", HTTP_USER_AGENT="third-agent/1.0")
    key = ApiKey.objects.get(pk=key.pk)
    assert (key.last_used_at, key.last_used_user_agent) == (later, "third-agent/1.0")


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_flusher_thread_writes_an_idle_processs_buffer(
    make_org, make_key, client_for, settings
):
    key, plaintext = make_key(make_org())
    settings.APIKEYS_USAGE_FLUSH_THREAD = True
    settings.APIKEYS_USAGE_FLUSH_SECONDS = 0.2
    client_for(plaintext).get("/api/v1/status/job_nope")
    deadline = time.monotonic() + 10
    # The thread writes usage, then the request log, each in its own transaction.
    while time.monotonic() < deadline and not (
        UsageHourly.objects.filter(api_key=key).exists()
        and RequestLog.objects.filter(api_key=key).exists()
    ):
        time.sleep(0.05)
    assert UsageHourly.objects.get(api_key=key).requests == 1
    assert RequestLog.objects.filter(api_key=key).count() == 1
