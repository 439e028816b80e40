"""What an organization sees when one of its keys is reported exposed: an email to owners and
admins, the reason and source on the key (page and API), a ``key.exposed`` webhook event and
the Activity page."""

import pytest
from django.core import mail

from accounts.models import Membership
from tests.exposure.helpers import found
from tests.helpers import SYSTEM
from webhooks.models import WebhookDelivery
from webhooks.services import webhookendpoint_create

pytestmark = pytest.mark.django_db

URL = "https://github.com/acme/app/blob/abc/settings.py#L3"


@pytest.fixture
def people(org, make_user):
    return {
        role: make_user(org, role=role, email=f"{role}@acme.example")
        for role in ("owner", "admin", "member")
    }


@pytest.fixture
def exposed(keys_file, signer, report, org, make_key, people, django_capture_on_commit_callbacks):
    key, plaintext = make_key(org, name="Billing worker")
    with django_capture_on_commit_callbacks(execute=True):
        assert report([found(plaintext, URL)], signer=signer).status_code == 200
    key.refresh_from_db()
    return key, plaintext


def test_owners_and_admins_get_one_email_with_what_happened(exposed, people):
    key, plaintext = exposed
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert sorted(message.to) == ["admin@acme.example", "owner@acme.example"]
    assert "Billing worker" in message.subject
    for fact in ("Billing worker", key.key_id, URL, "GitHub secret scanning", "Revoked at"):
        assert fact in message.body
    assert "/settings/developer/keys/new/" in message.body  # the link to make a replacement
    assert plaintext not in message.body and plaintext not in message.subject


def test_a_report_of_several_keys_sends_one_email_per_organization(
    keys_file, signer, report, make_org, make_key, make_user, django_capture_on_commit_callbacks
):
    first, second = make_org(), make_org()
    make_user(first, role=Membership.Role.OWNER)
    make_user(second, role=Membership.Role.OWNER)
    tokens = [make_key(first)[1], make_key(first)[1], make_key(second)[1]]
    with django_capture_on_commit_callbacks(execute=True):
        report([found(t) for t in tokens], signer=signer)
    assert len(mail.outbox) == 2


def test_the_key_shows_the_reason_and_source_in_the_api(exposed, org, make_key, client_for):
    key, _ = exposed
    _, manager = make_key(org, permissions=["keys:manage"])
    body = client_for(manager).get(f"/api/v1/keys/{key.key_id}").json()
    assert body["status"] == "revoked"
    assert body["revoked_reason"] == "exposed"
    assert body["exposure_source"] == "github_secret_scanning"
    assert body["exposure_url"] == URL
    other = client_for(manager).get(f"/api/v1/keys/{manager_id(client_for, manager)}").json()
    assert other["revoked_reason"] is None and other["exposure_source"] is None


def manager_id(client_for, plaintext):
    keys = client_for(plaintext).get("/api/v1/keys").json()["results"]
    return next(k["id"] for k in keys if k["status"] == "active")


def test_the_key_page_and_activity_say_it_was_exposed(exposed, web):
    key, _ = exposed
    page = web.get(f"/settings/developer/keys/{key.key_id}/").content.decode()
    assert "Reported exposed" in page
    assert "GitHub secret scanning" in page
    assert URL in page
    activity = web.get("/settings/developer/activity/").content.decode()
    assert "api_key.exposed" in activity


def test_a_key_exposed_event_goes_to_the_organizations_endpoints(
    keys_file, signer, report, org, make_org, make_key, settings
):
    settings.OUTBOUND_ALLOW_PRIVATE_ADDRESSES = True
    settings.WEBHOOKS_REQUIRE_HTTPS = False
    listening, _ = webhookendpoint_create(
        organization=org,
        environment="live",
        actor=SYSTEM,
        url="http://127.0.0.1/hooks",
        events=["key.exposed"],
    )
    webhookendpoint_create(
        organization=org,
        environment="live",
        actor=SYSTEM,
        url="http://127.0.0.1/jobs-only",
        events=["job.succeeded"],
    )
    stranger = make_org()
    webhookendpoint_create(
        organization=stranger,
        environment="live",
        actor=SYSTEM,
        url="http://127.0.0.1/other-tenant",
        events=["key.exposed"],
    )
    key, plaintext = make_key(org)
    report([found(plaintext, URL)], signer=signer)
    delivery = WebhookDelivery.objects.get()
    assert delivery.endpoint == listening
    assert delivery.event_type == "key.exposed"
    data = delivery.payload["data"]
    assert data["key"]["id"] == key.key_id
    assert data["revoked_reason"] == "exposed"
    assert data["source"] == "github_secret_scanning"
    assert data["url"] == URL
    assert plaintext not in str(delivery.payload)


def test_a_replay_sends_no_second_email_or_event(
    exposed, keys_file, signer, report, django_capture_on_commit_callbacks
):
    key, plaintext = exposed
    events = WebhookDelivery.objects.count()
    with django_capture_on_commit_callbacks(execute=True):
        report([found(plaintext, URL)], signer=signer)
    assert len(mail.outbox) == 1
    assert WebhookDelivery.objects.count() == events
