"""Usage counted by several web processes adds up exactly once each has flushed."""

import pytest
from django.db import connection

from apikeys.usage.models import RequestLog, UsageHourly
from apikeys.usage.selectors import USAGE_WINDOWS, usage_summary
from tests.spawn_clients import serve_in_processes


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_usage_from_several_processes_adds_up(make_org, make_key):
    org = make_org()
    key, plaintext = make_key(org, permissions=["usage:read", "jobs:read"])
    paths = ["/api/v1/usage"] * 6 + ["/api/v1/status/job_missing"] * 2
    responses = serve_in_processes(
        db_name=connection.settings_dict["NAME"], plaintext=plaintext, paths=paths, processes=3
    )
    assert sorted({r[0] for r in responses}) == [200, 404]

    rows = UsageHourly.objects.filter(api_key=key)
    assert sum(r.requests for r in rows) == 24
    assert sum(r.errors for r in rows) == 6
    assert sum(sum(r.histogram()) for r in rows) == 24
    assert RequestLog.objects.filter(api_key=key).count() == 24
    assert RequestLog.objects.filter(api_key=key, error_code="job_not_found").count() == 6
    summary = usage_summary(organization=org, since=_day_ago())
    assert (summary.requests, summary.errors) == (24, 6)


def _day_ago():
    from django.utils import timezone

    return timezone.now() - USAGE_WINDOWS["24h"]
