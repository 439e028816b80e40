"""``GET /api/v1/projects`` and the usage report by project: a key sees its own project only."""

import pytest

from accounts.projects.selectors import project_default
from accounts.projects.services import project_create
from apikeys.usage.models import UsageHourly
from tests.helpers import SYSTEM

FIVE = {"prompt": "p", "options": {"model": "gpt-4o", "max_tokens": 1000}}


@pytest.fixture
def web(org):
    return project_create(
        organization=org, name="Web", monthly_spend_limit=100, rate_limit_ceiling=30, actor=SYSTEM
    )


def test_a_key_lists_its_own_project_with_this_months_spend(org, web, make_key, client_for):
    _, plaintext = make_key(org, project=web, permissions=["usage:read", "jobs:write"])
    client = client_for(plaintext)
    assert client.post("/api/v1/generate", FIVE, format="json").status_code == 202

    response = client.get("/api/v1/projects")

    assert response.status_code == 200
    body = response.json()
    assert body["next"] is None
    [project] = body["results"]
    assert project == {
        "id": web.project_id,
        "name": "Web",
        "default": False,
        "archived": False,
        "monthly_spend_limit": 100,
        "spend_this_month": 5,
        "rate_limit_ceiling": 30,
        "created_at": project["created_at"],
    }


def test_the_other_projects_stay_invisible(org, web, make_key, client_for):
    _, plaintext = make_key(org, permissions=["usage:read"])  # in Default
    ids = [p["id"] for p in client_for(plaintext).get("/api/v1/projects").json()["results"]]
    assert ids == [project_default(organization=org).project_id]


def test_listing_projects_needs_usage_read(org, make_key, client_for):
    _, plaintext = make_key(org, permissions=["jobs:read"])
    response = client_for(plaintext).get("/api/v1/projects")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "insufficient_permissions"


def _usage(key, requests):
    from django.utils import timezone

    UsageHourly.objects.create(
        organization=key.organization,
        api_key=key,
        hour=timezone.now().replace(minute=0, second=0, microsecond=0),
        requests=requests,
        errors=0,
    )


def test_usage_covers_the_keys_own_project_and_filters_by_project(org, web, make_key, client_for):
    reader, plaintext = make_key(org, project=web, permissions=["usage:read"])
    other, _ = make_key(org)  # Default
    _usage(reader, 3)
    _usage(other, 40)
    client = client_for(plaintext)

    report = client.get("/api/v1/usage").json()
    assert report["totals"]["24h"]["requests"] == 3
    assert [k["id"] for k in report["keys"]] == [reader.key_id]

    same = client.get(f"/api/v1/usage?project={web.project_id}").json()
    assert same["totals"] == report["totals"]
    default = project_default(organization=org).project_id
    hidden = client.get(f"/api/v1/usage?project={default}").json()
    assert hidden["keys"] == [] and hidden["totals"]["24h"]["requests"] == 0
    bad = client.get("/api/v1/usage?project=" + "x" * 41)
    assert (bad.status_code, bad.json()["error"]["code"]) == (400, "invalid_request")
