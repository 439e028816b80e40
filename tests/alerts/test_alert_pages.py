"""Developer Settings pages for alert rules: owners and admins change, members look."""

import pytest
from django.urls import reverse

from accounts.models import AuditEvent, Membership
from alerts.models import AlertDelivery, AlertRule
from alerts.services import alertrule_create
from tests.helpers import SYSTEM

LIST = "/settings/developer/alerts/"


def make_rule(org, **fields):
    data = {
        "name": "Spike",
        "metric": "requests",
        "threshold": 100,
        "channel": "slack",
        "destination": "https://hooks.slack.com/services/T000/B000/verysecretpath",
    }
    data.update(fields)
    return alertrule_create(organization=org, actor=SYSTEM, **data)


@pytest.fixture
def owner_client(client, org, make_user):
    client.force_login(make_user(org, role=Membership.Role.OWNER))
    return client


@pytest.fixture
def member_client(client, org, make_user):
    client.force_login(make_user(org, role=Membership.Role.MEMBER))
    return client


FORM = {
    "name": "Errors up",
    "metric": "error_rate",
    "threshold": "5",
    "window_minutes": "60",
    "api_key": "",
    "channel": "webhook",
    "destination": "https://hooks.example.com/perceptis",
    "enabled": "on",
}


def send(client, url: str, data: dict, *, via: str | None = None):
    """Open the form at ``via`` (default ``url``) as a browser does, then post ``data`` with
    the form's one-time token."""
    page = client.get(via or url)
    return client.post(url, {**data, "nonce": page.context["form"]["nonce"].value()})


def test_list_url_is_named_developer_alerts():
    assert reverse("developer-alerts") == LIST


def test_signed_out_visitor_is_sent_to_login(client):
    response = client.get(LIST)

    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_owner_creates_a_rule_and_sees_its_signing_secret(owner_client, org, make_key):
    key, _ = make_key(org, name="Checkout")
    response = send(
        owner_client, reverse("developer-alert-create"), {**FORM, "api_key": key.key_id}
    )

    rule = AlertRule.objects.get(organization=org)
    # Shown once, as the answer to the POST, like a new key; never again.
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    assert rule.signing_secret in response.content.decode()
    assert (rule.metric, rule.threshold, rule.api_key, rule.enabled) == ("error_rate", 5, key, True)
    page = owner_client.get(reverse("developer-alert-edit", args=[rule.pk])).content.decode()
    assert rule.signing_secret not in page
    assert "It was shown once" in page
    assert AuditEvent.objects.filter(action="alert_rule.created", actor_user__isnull=False).exists()


def test_invalid_form_shows_the_error_next_to_its_field(owner_client, org):
    response = send(owner_client, reverse("developer-alert-create"), {**FORM, "destination": "x"})

    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="id_destination_error"' in page
    assert "Enter a valid http or https URL." in page
    assert not AlertRule.objects.exists()


def test_every_input_has_a_label(owner_client):
    page = owner_client.get(reverse("developer-alert-create")).content.decode()

    for field in FORM:
        assert f'for="id_{field}"' in page


def test_owner_edits_a_rule(owner_client, org):
    rule = make_rule(org)
    data = {**FORM, "name": "Renamed", "channel": "slack", "destination": rule.destination}
    data.update(metric="requests", threshold="250")

    response = send(owner_client, reverse("developer-alert-edit", args=[rule.pk]), data)

    assert response.status_code == 302
    rule.refresh_from_db()
    assert (rule.name, rule.threshold) == ("Renamed", 250)


def test_owner_deletes_a_rule(owner_client, org):
    rule = make_rule(org)

    confirm = owner_client.get(reverse("developer-alert-delete", args=[rule.pk]))
    response = owner_client.post(reverse("developer-alert-delete", args=[rule.pk]))

    assert confirm.status_code == 200
    assert response.status_code == 302
    assert not AlertRule.objects.filter(pk=rule.pk).exists()


def test_list_shows_latest_delivery_status_and_hides_slack_url_path(owner_client, org):
    from django.utils import timezone

    rule = make_rule(org)
    AlertDelivery.objects.create(
        rule=rule, window_start=timezone.now(), value=1, message="m", status="failed"
    )

    page = owner_client.get(LIST).content.decode()

    assert "Spike" in page
    assert "badge-failed" in page
    assert "verysecretpath" not in page
    assert "https://hooks.slack.com/…" in page


@pytest.mark.parametrize(
    ("attempts", "shown"), [(0, "Queued"), (2, "Retrying")], ids=["not-tried", "tried"]
)
def test_a_firing_waiting_for_its_next_attempt_never_says_pending(
    owner_client, org, attempts, shown
):
    from datetime import timedelta

    from django.utils import timezone

    rule = make_rule(org)
    retry_at = timezone.now() + timedelta(minutes=5)
    AlertDelivery.objects.create(
        rule=rule, window_start=timezone.now(), value=1, message="m", status="pending",
        attempts=attempts, next_attempt_at=retry_at,
    )  # fmt: skip

    listed = owner_client.get(LIST).content.decode()
    edit = owner_client.get(reverse("developer-alert-edit", args=[rule.pk])).content.decode()

    for page in (listed, edit):
        assert f">{shown}</span>" in page
        assert "Pending" not in page
    assert f"next attempt {retry_at:%Y-%m-%d %H:%M}" in edit


def test_member_sees_rules_but_gets_403_on_every_change(member_client, org):
    rule = make_rule(org)
    edit = reverse("developer-alert-edit", args=[rule.pk])

    assert member_client.get(LIST).status_code == 200
    assert "Spike" in member_client.get(LIST).content.decode()
    assert member_client.post(reverse("developer-alert-create"), FORM).status_code == 403
    assert member_client.post(edit, {**FORM, "name": "Hijacked"}).status_code == 403
    delete = reverse("developer-alert-delete", args=[rule.pk])
    assert member_client.post(delete).status_code == 403
    rule.refresh_from_db()
    assert rule.name == "Spike"
    assert AlertRule.objects.count() == 1


def test_another_organizations_rule_is_not_found(owner_client, make_org):
    foreign = make_rule(make_org())

    edit = reverse("developer-alert-edit", args=[foreign.pk])
    delete = reverse("developer-alert-delete", args=[foreign.pk])

    assert owner_client.get(edit).status_code == 404
    assert owner_client.post(edit, FORM).status_code == 404
    assert owner_client.post(delete).status_code == 404
    assert AlertRule.objects.filter(pk=foreign.pk, name="Spike").exists()


def test_post_without_csrf_token_is_refused(org, make_user):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(make_user(org, role=Membership.Role.OWNER))

    response = client.post(reverse("developer-alert-create"), FORM)

    assert response.status_code == 403
    assert not AlertRule.objects.exists()


def test_replacing_the_signing_secret_shows_the_new_one_once(owner_client, org):
    send(owner_client, reverse("developer-alert-create"), FORM)
    rule = AlertRule.objects.get(organization=org)
    first = rule.signing_secret
    url = reverse("developer-alert-edit", args=[rule.pk])
    response = send(owner_client, url, {**FORM, "rotate_signing_secret": "on"})
    rule.refresh_from_db()
    assert rule.signing_secret != first
    assert rule.signing_secret in response.content.decode()
    assert "no-store" in response["Cache-Control"]
    response = send(owner_client, url, FORM)  # saving without replacing shows nothing
    assert response.status_code == 302


def test_a_resubmitted_secret_form_does_not_replace_the_secret_again(owner_client, org):
    rule = make_rule(org, channel="webhook", destination="https://hooks.example.com/p")
    url = reverse("developer-alert-edit", args=[rule.pk])
    nonce = owner_client.get(url).context["form"]["nonce"].value()
    data = {**FORM, "rotate_signing_secret": "on", "nonce": nonce}

    first = owner_client.post(url, data)
    rule.refresh_from_db()
    shown = rule.signing_secret
    again = owner_client.post(url, data)  # reload, back button, double click

    assert shown in first.content.decode()
    assert again.status_code == 302
    rule.refresh_from_db()
    assert rule.signing_secret == shown
    assert shown not in again.content.decode()
    assert AuditEvent.objects.filter(action="alert_rule.updated").count() == 1


def test_a_resubmitted_create_form_makes_one_rule(owner_client, org):
    url = reverse("developer-alert-create")
    nonce = owner_client.get(url).context["form"]["nonce"].value()

    owner_client.post(url, {**FORM, "nonce": nonce})
    again = owner_client.post(url, {**FORM, "nonce": nonce})

    assert again.status_code == 302
    assert AlertRule.objects.filter(organization=org).count() == 1


def test_a_form_token_works_only_for_its_own_rule_and_person(owner_client, org, make_user):
    from django.test import Client

    mine = make_rule(org, channel="webhook", destination="https://hooks.example.com/a")
    other = make_rule(
        org, name="Other", channel="webhook", destination="https://hooks.example.com/b"
    )
    mine_url = reverse("developer-alert-edit", args=[mine.pk])
    other_url = reverse("developer-alert-edit", args=[other.pk])
    nonce = owner_client.get(mine_url).context["form"]["nonce"].value()
    secret = other.signing_secret
    data = {**FORM, "rotate_signing_secret": "on", "nonce": nonce}

    carried = owner_client.post(other_url, data)  # a token for another rule's form
    colleague = Client()
    colleague.force_login(make_user(org, role=Membership.Role.ADMIN))
    stolen = colleague.post(mine_url, data)  # another person's token
    forged = owner_client.post(mine_url, {**data, "nonce": nonce[:-4] + "AAAA"})

    for response in (carried, stolen, forged):
        assert response.status_code == 200
        assert "This form has expired; open it again." in response.content.decode()
    other.refresh_from_db()
    mine_before = mine.signing_secret
    mine.refresh_from_db()
    assert (other.signing_secret, mine.signing_secret) == (secret, mine_before)


def test_a_rule_on_the_deprecated_signature_switches_to_standard_webhooks(owner_client, org):
    rule = make_rule(org, channel="webhook", destination="https://hooks.example.com/p")
    AlertRule.objects.filter(pk=rule.pk).update(legacy_signature=True)
    url = reverse("developer-alert-edit", args=[rule.pk])
    assert "Perceptis-Signature" in owner_client.get(url).content.decode()

    response = send(owner_client, url, {**FORM, "adopt_standard_signature": "on"})

    rule.refresh_from_db()
    assert rule.legacy_signature is False
    assert rule.signing_secret in response.content.decode()
    assert "Standard Webhooks" in response.content.decode()


def test_the_signing_secret_is_encrypted_at_rest(org):
    from django.db import connection

    rule = alertrule_create(
        organization=org,
        actor=SYSTEM,
        name="Hook",
        metric="requests",
        threshold=1,
        channel="webhook",
        destination="https://hooks.example.com/perceptis",
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT signing_secret FROM apikeys_alertrule WHERE id = %s", [rule.pk])
        (stored,) = cursor.fetchone()
    assert stored.startswith("enc1:") and rule.signing_secret not in stored
    assert AlertRule.objects.get(pk=rule.pk).signing_secret == rule.signing_secret
