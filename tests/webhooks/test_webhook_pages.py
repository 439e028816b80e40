"""The Webhooks page of Developer Settings: owners and admins register, edit, rotate and delete
endpoints and see a secret once; members read endpoints and deliveries and change nothing."""

import pytest

from accounts.models import AuditEvent, Membership
from tests.helpers import SYSTEM
from webhooks.events import event_publish
from webhooks.models import WebhookEndpoint
from webhooks.services import webhookendpoint_create

LIST = "/settings/developer/webhooks/"
FORM = {
    "url": "https://hooks.example.com/perceptis",
    "description": "Orders service",
    "environment": "live",
    "events": ["job.succeeded", "job.failed"],
    "enabled": "on",
}


def make_endpoint(org, environment="live"):
    return webhookendpoint_create(
        organization=org,
        environment=environment,
        actor=SYSTEM,
        url="https://hooks.example.com/in",
        events=["job.succeeded"],
    )


@pytest.fixture
def admin_client(signed_in, org, make_user):
    return signed_in(make_user(org, role=Membership.Role.ADMIN))


@pytest.fixture
def member_client(signed_in, member):
    return signed_in(member)


def test_the_page_is_linked_in_the_developer_settings_navigation(web):
    page = web.get("/settings/developer/").content.decode()

    assert f'href="{LIST}"' in page


def test_signed_out_visitor_is_sent_to_sign_in(client):
    response = client.get(LIST)

    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_creating_an_endpoint_shows_its_secret_once(admin_client, org):
    response = admin_client.post(f"{LIST}new/", FORM)

    assert response.status_code == 200
    endpoint = WebhookEndpoint.objects.get(organization=org)
    page = response.content.decode()
    assert endpoint.secret in page
    assert "no-store" in response["Cache-Control"]
    assert (endpoint.environment, endpoint.events) == ("live", ["job.succeeded", "job.failed"])
    for url in (LIST, f"{LIST}{endpoint.public_id}/", f"{LIST}{endpoint.public_id}/edit/"):
        later = admin_client.get(url)
        assert later.status_code == 200
        assert endpoint.secret not in later.content.decode()
    audit = AuditEvent.objects.get(action="webhook_endpoint.created")
    assert audit.actor_user is not None
    assert endpoint.secret.removeprefix("whsec_") not in str(audit.metadata)


def test_a_bad_url_is_shown_on_the_form_and_nothing_is_written(admin_client, settings):
    settings.WEBHOOKS_REQUIRE_HTTPS = True

    response = admin_client.post(f"{LIST}new/", {**FORM, "url": "http://hooks.example.com/x"})

    assert response.status_code == 200
    assert "Enter a valid https URL." in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


def test_rotating_shows_the_new_secret_once(admin_client, org):
    endpoint, old_secret = make_endpoint(org)

    response = admin_client.post(f"{LIST}{endpoint.public_id}/rotate/")

    endpoint.refresh_from_db()
    assert endpoint.secret != old_secret
    assert endpoint.secret in response.content.decode()
    assert old_secret not in response.content.decode()
    assert "no-store" in response["Cache-Control"]
    detail = admin_client.get(f"{LIST}{endpoint.public_id}/").content.decode()
    assert endpoint.secret not in detail


def test_editing_and_deleting(admin_client, org):
    endpoint, _ = make_endpoint(org)

    edited = admin_client.post(
        f"{LIST}{endpoint.public_id}/edit/",
        {"url": "https://other.example.com/x", "events": ["job.canceled"]},
    )
    assert edited.status_code == 302
    endpoint.refresh_from_db()
    assert (endpoint.url, endpoint.events, endpoint.enabled) == (
        "https://other.example.com/x",
        ["job.canceled"],
        False,
    )

    deleted = admin_client.post(f"{LIST}{endpoint.public_id}/delete/")
    assert deleted.status_code == 302
    assert not WebhookEndpoint.objects.exists()


def test_members_see_endpoints_and_deliveries_but_change_nothing(member_client, org):
    endpoint, secret = make_endpoint(org)
    (delivery,) = event_publish(
        organization=org, environment="live", type="job.succeeded", data={"job_id": "job_x"}
    )

    listed = member_client.get(LIST).content.decode()
    detail = member_client.get(f"{LIST}{endpoint.public_id}/").content.decode()

    assert endpoint.public_id in listed and "New endpoint" not in listed
    assert delivery.public_id in detail and "Queued" in detail
    assert "Rotate secret" not in detail and secret not in detail
    for url in ("new/", f"{endpoint.public_id}/edit/", f"{endpoint.public_id}/rotate/"):
        assert member_client.post(f"{LIST}{url}", FORM).status_code == 403
    assert member_client.post(f"{LIST}{endpoint.public_id}/delete/").status_code == 403
    endpoint.refresh_from_db()
    assert endpoint.secret == secret
    assert WebhookEndpoint.objects.count() == 1


def test_another_organizations_endpoint_is_not_found(admin_client, make_org):
    endpoint, secret = make_endpoint(make_org())

    for suffix in ("", "edit/", "rotate/", "delete/"):
        assert admin_client.get(f"{LIST}{endpoint.public_id}/{suffix}").status_code == 404
        assert admin_client.post(f"{LIST}{endpoint.public_id}/{suffix}").status_code == 404
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).secret == secret


def test_creating_or_rotating_asks_for_a_recent_password(client, org, make_user):
    admin = make_user(org, role=Membership.Role.ADMIN)
    client.force_login(admin)  # signed in, but not with a password just now
    endpoint, secret = make_endpoint(org)

    for url in (f"{LIST}new/", f"{LIST}{endpoint.public_id}/rotate/"):
        response = client.post(url, FORM)
        assert response.status_code == 302
        assert "/reauthenticate/" in response["Location"]
    assert WebhookEndpoint.objects.count() == 1
    endpoint.refresh_from_db()
    assert endpoint.secret == secret
