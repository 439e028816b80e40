"""Support staff browse the request log and hourly usage in admin, read-only."""

import pytest

from apikeys.usage import metering
from apikeys.usage.models import RequestLog, UsageHourly


@pytest.fixture
def traffic(live_key, client_for):
    key, plaintext = live_key
    client = client_for(plaintext)
    ok = client.get("/api/v1/status/job_nope", HTTP_X_REQUEST_ID="req_support_wants_this")
    client.get("/api/v1/status/job_other")
    metering.flush()
    return key, ok["X-Request-ID"]


def test_request_log_is_found_by_exact_request_id(admin_client, traffic):
    _, request_id = traffic
    response = admin_client.get("/admin/apikeys/requestlog/", {"q": request_id})
    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == list(
        RequestLog.objects.filter(request_id=request_id)
    )
    partial = admin_client.get("/admin/apikeys/requestlog/", {"q": request_id[:-3]})
    assert list(partial.context["cl"].result_list) == []


def test_request_log_filters_by_status_organization_and_date(admin_client, traffic, make_org):
    key, _ = traffic
    url = "/admin/apikeys/requestlog/"
    assert admin_client.get(url, {"status_class": "4xx"}).context["cl"].result_count == 2
    assert admin_client.get(url, {"status_class": "2xx"}).context["cl"].result_count == 0
    other = make_org()
    assert (
        admin_client.get(url, {"organization__id__exact": other.pk}).context["cl"].result_count == 0
    )
    by_org = admin_client.get(url, {"organization__id__exact": key.organization_id})
    assert by_org.context["cl"].result_count == 2
    assert admin_client.get(url, {"created_at__gte": "2000-01-01 00:00+00:00"}).status_code == 200


def test_request_log_admin_is_read_only_and_shows_the_key_id(admin_client, traffic):
    key, request_id = traffic
    row = RequestLog.objects.get(request_id=request_id)
    page = admin_client.get(f"/admin/apikeys/requestlog/{row.pk}/change/")
    assert page.status_code == 200
    assert key.key_id in page.content.decode()
    assert admin_client.get("/admin/apikeys/requestlog/add/").status_code == 403
    assert admin_client.post(f"/admin/apikeys/requestlog/{row.pk}/delete/").status_code == 403


def test_hourly_usage_admin_lists_figures(admin_client, traffic):
    key, _ = traffic
    response = admin_client.get("/admin/apikeys/usagehourly/", {"q": key.key_id})
    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == list(UsageHourly.objects.all())
    assert "100.0%" in response.content.decode()
    row = UsageHourly.objects.get()
    assert admin_client.get(f"/admin/apikeys/usagehourly/{row.pk}/change/").status_code == 200
    assert admin_client.get("/admin/apikeys/usagehourly/add/").status_code == 403
