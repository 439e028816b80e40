"""Webhook endpoints by project: registered through the API, an endpoint belongs to the key's
project, receives only that project's job and key events, and no key of another project sees or
changes it; an endpoint made on the page receives every project's events or one chosen project's;
endpoints registered by keys before projects existed move to their key's project."""

import pytest

from accounts.projects.services import project_archive, project_create
from apikeys.keys.models import Permission
from apikeys.keys.services import apikey_revoke
from exposure.services import exposed_report_github
from jobs.services import job_run
from perceptis.errors import InvalidRequest
from tests.exposure.helpers import found
from tests.helpers import SYSTEM, migrate
from webhooks.models import WebhookDelivery, WebhookEndpoint
from webhooks.services import webhookendpoint_create

MANAGE = [Permission.KEYS_MANAGE, Permission.JOBS_WRITE, Permission.JOBS_READ]
JOB_EVENTS = ["job.succeeded", "job.failed", "job.canceled", "key.exposed"]


@pytest.fixture
def mobile(org):
    return project_create(organization=org, name="Mobile", actor=SYSTEM)


@pytest.fixture
def default_key(org, make_key):
    return make_key(org, permissions=MANAGE)


@pytest.fixture
def mobile_key(org, make_key, mobile):
    return make_key(org, project=mobile, permissions=MANAGE)


def register(client, url="http://127.0.0.1/hook") -> dict:
    response = client.post("/api/v1/webhooks", {"url": url, "events": JOB_EVENTS}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def org_wide(org, url="http://127.0.0.1/all") -> WebhookEndpoint:
    endpoint, _ = webhookendpoint_create(
        organization=org, environment="live", actor=SYSTEM, url=url, events=JOB_EVENTS
    )
    return endpoint


def finish_a_job(client, capture) -> str:
    response = client.post("/api/v1/generate", {"prompt": "Say hello"}, format="json")
    assert response.status_code == 202, response.content
    job_id = response.json()["job_id"]
    with capture(execute=True):
        job_run(job_id=job_id)
    return job_id


def receivers(event_type: str) -> set[str]:
    deliveries = WebhookDelivery.objects.filter(event_type=event_type)
    return set(deliveries.values_list("endpoint__public_id", flat=True))


def test_an_endpoint_registered_by_a_key_belongs_to_the_keys_project(
    client_for, mobile_key, mobile
):
    created = register(client_for(mobile_key[1]))
    assert created["project"] == mobile.project_id
    assert WebhookEndpoint.objects.get(public_id=created["id"]).project_id == mobile.project_id


def test_a_key_lists_only_its_own_projects_endpoints(
    org, client_for, default_key, mobile_key, mobile
):
    theirs = register(client_for(default_key[1]))
    org_wide(org)
    ours = register(client_for(mobile_key[1]))
    listed = client_for(mobile_key[1]).get("/api/v1/webhooks").json()["results"]
    assert [e["id"] for e in listed] == [ours["id"]]
    assert theirs["id"] not in str(listed)


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("get", "", None),
        ("patch", "", {"enabled": False}),
        ("delete", "", None),
        ("post", "/rotate-secret", None),
        ("get", "/deliveries", None),
    ],
)
def test_another_projects_endpoint_is_not_found_and_stays_as_it_was(
    org, client_for, default_key, mobile_key, method, suffix, body
):
    theirs = register(client_for(default_key[1]))
    every = org_wide(org)
    before = {e.public_id: (e.enabled, e.secret) for e in WebhookEndpoint.objects.all()}
    client = client_for(mobile_key[1])
    for endpoint_id in (theirs["id"], every.public_id):
        response = getattr(client, method)(
            f"/api/v1/webhooks/{endpoint_id}{suffix}", body, format="json"
        )
        assert response.status_code == 404, response.content
        assert response.json()["error"]["code"] == "webhook_not_found"
    after = {e.public_id: (e.enabled, e.secret) for e in WebhookEndpoint.objects.all()}
    assert after == before


def test_a_key_cannot_name_another_project_in_the_body(client_for, default_key, mobile_key, mobile):
    client = client_for(default_key[1])
    body = {"url": "http://127.0.0.1/x", "events": JOB_EVENTS, "project": mobile.project_id}
    refused = client.post("/api/v1/webhooks", body, format="json")
    assert refused.status_code == 400
    assert "project" in refused.json()["error"]["fields"]
    assert not WebhookEndpoint.objects.exists()

    ours = register(client)
    moved = client.patch(
        f"/api/v1/webhooks/{ours['id']}", {"project": mobile.project_id}, format="json"
    )
    assert moved.status_code == 400
    assert "project" in moved.json()["error"]["fields"]
    assert WebhookEndpoint.objects.get(public_id=ours["id"]).project_id != mobile.project_id


def test_a_jobs_event_goes_to_its_projects_endpoints_and_those_of_every_project(
    org, client_for, default_key, mobile_key, django_capture_on_commit_callbacks
):
    default_endpoint = register(client_for(default_key[1]), "http://127.0.0.1/default")
    mobile_endpoint = register(client_for(mobile_key[1]), "http://127.0.0.1/mobile")
    every = org_wide(org)
    finish_a_job(client_for(mobile_key[1]), django_capture_on_commit_callbacks)
    assert receivers("job.succeeded") == {mobile_endpoint["id"], every.public_id}
    assert default_endpoint["id"] not in receivers("job.succeeded")


def test_a_key_exposed_event_goes_to_the_keys_projects_endpoints_only(
    org, client_for, default_key, mobile_key, mobile
):
    register(client_for(default_key[1]), "http://127.0.0.1/default")
    mobile_endpoint = register(client_for(mobile_key[1]), "http://127.0.0.1/mobile")
    every = org_wide(org)
    exposed_report_github(report=[found(mobile_key[1])], actor=SYSTEM)
    assert receivers("key.exposed") == {mobile_endpoint["id"], every.public_id}
    delivery = WebhookDelivery.objects.filter(event_type="key.exposed").first()
    assert delivery.payload["data"]["project"] == mobile.project_id


def test_an_archived_or_foreign_project_cannot_hold_an_endpoint(org, make_org, mobile, make_key):
    stranger = project_create(organization=make_org(), name="Theirs", actor=SYSTEM)
    key, _ = make_key(org, project=mobile)
    apikey_revoke(key=key, actor=SYSTEM)
    project_archive(project=mobile, actor=SYSTEM)
    for project in (stranger.project_id, mobile.project_id, "proj_nope", 7):
        with pytest.raises(InvalidRequest):
            webhookendpoint_create(
                organization=org,
                environment="live",
                actor=SYSTEM,
                url="http://127.0.0.1/x",
                events=JOB_EVENTS,
                project=project,
            )
    assert not WebhookEndpoint.objects.exists()


def test_owners_choose_one_project_or_every_project_on_the_page(web, org, mobile):
    form = {"url": "http://127.0.0.1/page", "environment": "live", "events": ["job.succeeded"]}
    page = web.get("/settings/developer/webhooks/new/")
    assert "Every project" in page.content.decode() and "Mobile" in page.content.decode()
    assert web.post("/settings/developer/webhooks/new/", {**form, "project": ""}).status_code == 200
    assert (
        web.post(
            "/settings/developer/webhooks/new/", {**form, "project": mobile.project_id}
        ).status_code
        == 200
    )
    assert sorted(WebhookEndpoint.objects.values_list("project_id", flat=True), key=str) == sorted(
        [None, mobile.project_id], key=str
    )
    listing = web.get("/settings/developer/webhooks/").content.decode()
    assert "Every project" in listing and "Mobile" in listing


def test_the_page_refuses_another_organizations_project(web, org, make_org):
    stranger = project_create(organization=make_org(), name="Theirs", actor=SYSTEM)
    form = {"url": "http://127.0.0.1/page", "environment": "live", "events": ["job.succeeded"]}
    response = web.post(
        "/settings/developer/webhooks/new/", {**form, "project": stranger.project_id}
    )
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


BEFORE = [("webhooks", "0005_delivery_attempts")]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_endpoints_registered_by_keys_move_to_their_keys_project(org, client_for, make_key):
    mobile = project_create(organization=org, name="Mobile", actor=SYSTEM)
    _, plaintext = make_key(org, project=mobile, permissions=MANAGE)
    by_key = register(client_for(plaintext))
    on_page = org_wide(org)
    WebhookEndpoint.objects.update(project=None)  # as they were before the column existed

    migrate(BEFORE)
    migrate()

    assert WebhookEndpoint.objects.get(public_id=by_key["id"]).project_id == mobile.project_id
    assert WebhookEndpoint.objects.get(pk=on_page.pk).project_id is None
