"""Operators' endpoints and telemetry: liveness, readiness, metrics, JSON logs, Sentry."""

import json
import logging
from unittest import mock

import pytest
from django.db import OperationalError
from django.db.backends.utils import CursorWrapper
from django.test import Client

from apikeys.keys import keyformat
from perceptis.logformat import JsonLinesFormatter
from perceptis.middleware import RedactApiKeysFilter, RequestIdLogFilter
from perceptis.redaction import redact_event
from tests.helpers import settings_loaded


def test_healthz_touches_nothing(db, client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/healthz")
    assert response.status_code == 200


def test_readyz_reports_database_cache_and_queue(db, client):
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert {"database", "cache", "queue"} <= set(body["checks"])
    assert body["checks"]["queue"]["backlog"] >= 0
    assert body["checks"]["queue"]["outbound_backlog"] >= 0


def test_readyz_is_503_when_the_database_is_down(db):
    def fail(self, sql, params=None):
        raise OperationalError("connection refused")

    with mock.patch.object(CursorWrapper, "execute", fail):
        response = Client(raise_request_exception=False).get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"] == {"ok": False, "error": "OperationalError", "ms": mock.ANY}
    assert "connection refused" not in response.content.decode()


def test_readyz_is_503_when_the_cache_is_down(db):
    with mock.patch("perceptis.health.cache.set", side_effect=ConnectionError("down")):
        response = Client().get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["cache"]["ok"] is False


def test_metrics_answer_404_without_a_token(settings, client):
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics").status_code == 404


def test_metrics_need_the_bearer_token(settings, client):
    settings.METRICS_TOKEN = "scrape-token-123"
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401


def test_metrics_count_requests_by_endpoint_and_report_jobs(settings, db, client, live_key):
    settings.METRICS_TOKEN = "scrape-token-123"
    plaintext = live_key[1]
    client.get(f"/api/v1/status/{plaintext}")  # a key in the path never becomes a label
    client.get("/api/v1/status/job_x", HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-token-123")
    assert response.status_code == 200
    text = response.content.decode()
    assert 'endpoint="/api/v1/status/<str:job_id>",method="GET",status="404"' in text
    assert "perceptis_http_request_duration_seconds_bucket" in text
    assert 'perceptis_jobs{status="queued"}' in text
    assert 'perceptis_jobs{status="succeeded"}' in text
    assert 'perceptis_queue_backlog{queue="outbound"}' in text
    assert plaintext[12:24] not in text


def _record(message, *args):
    record = logging.LogRecord("perceptis.test", logging.INFO, __file__, 1, message, args, None)
    RequestIdLogFilter().filter(record)
    RedactApiKeysFilter().filter(record)
    return record


def test_json_logs_are_one_object_a_line_with_the_request_id_and_no_key():
    key = keyformat.generate("live")
    line = JsonLinesFormatter().format(_record("served %s", f"/x/{key}\ninjected"))
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["message"] == "served /x/sk-live-per-[redacted]\\ninjected"
    assert {"time", "level", "logger", "request_id"} <= set(entry)


def test_log_format_json_selects_the_json_formatter():
    built = settings_loaded(LOG_FORMAT="json")
    assert built.LOGGING["handlers"]["console"]["formatter"] == "json"


def test_sentry_dsn_starts_sentry_with_key_redaction():
    with mock.patch("sentry_sdk.init") as init:
        settings_loaded(SENTRY_DSN="https://public@sentry.example/1")
    kwargs = init.call_args.kwargs
    assert kwargs["before_send"] is redact_event
    assert kwargs["send_default_pii"] is False


def test_sentry_events_are_redacted_everywhere():
    key = keyformat.generate("test")
    event = {
        "request": {"url": f"https://api/x?cursor={key}", "headers": {"Referer": key}},
        "exception": {"values": [{"value": f"bad key {key[:20]}"}]},
        "breadcrumbs": [{"message": key}],
    }
    assert key[12:30] not in json.dumps(redact_event(event))


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_health_endpoints_are_not_redirected_to_https(settings, db, path):
    settings.SECURE_SSL_REDIRECT = True
    assert Client().get(path).status_code in (200, 503)
