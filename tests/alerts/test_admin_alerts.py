"""Support staff manage alert rules in the admin through the services; deliveries are read-only."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django_q.models import OrmQ

from accounts.models import AuditEvent
from alerts.models import AlertDelivery, AlertRule
from alerts.services import alertrule_create
from perceptis.queues import OUTBOUND_CLUSTER
from tests.helpers import SYSTEM, enable_totp
from webhooks.tasks import deliver_to_destination


@pytest.fixture
def admin_client(client, django_user_model):
    user = django_user_model.objects.create_superuser(email="root@example.com", password="x")
    enable_totp(user)  # staff need two-factor to use admin
    client.force_login(user)
    return client


def test_rule_added_in_admin_goes_through_the_service(admin_client, org):
    response = admin_client.post(
        "/admin/alerts/alertrule/add/",
        {
            "organization": org.pk,
            "name": "Low credits",
            "metric": "credits_below",
            "threshold": "50",
            "window_minutes": "1440",
            "channel": "webhook",
            "destination": "https://hooks.example.com/x",
            "enabled": "on",
        },
    )

    assert response.status_code == 302
    rule = AlertRule.objects.get()
    assert rule.signing_secret.startswith("whsec_")
    assert AuditEvent.objects.filter(action="alert_rule.created", target_id=str(rule.pk)).exists()


def test_admin_form_shows_service_validation_errors(admin_client, org):
    response = admin_client.post(
        "/admin/alerts/alertrule/add/",
        {
            "organization": org.pk,
            "name": "Bad",
            "metric": "error_rate",
            "threshold": "500",
            "window_minutes": "60",
            "channel": "email",
            "destination": "https://not-an-email.example.com",
        },
    )

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert set(errors) == {"threshold", "destination"}
    assert not AlertRule.objects.exists()


def test_admin_edit_and_delete_are_audited(admin_client, org):
    rule = alertrule_create(
        organization=org,
        actor=SYSTEM,
        name="Spike",
        metric="requests",
        threshold=10,
        channel="email",
        destination="ops@example.com",
    )
    data = {
        "name": "Spike",
        "metric": "requests",
        "threshold": "20",
        "window_minutes": "60",
        "channel": "email",
        "destination": "ops@example.com",
        "enabled": "on",
    }

    admin_client.post(f"/admin/alerts/alertrule/{rule.pk}/change/", data)
    rule.refresh_from_db()
    admin_client.post(f"/admin/alerts/alertrule/{rule.pk}/delete/", {"post": "yes"})

    assert rule.threshold == 20
    assert not AlertRule.objects.exists()
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"alert_rule.updated", "alert_rule.deleted"} <= actions


def test_deliveries_are_read_only_and_retry_now_queues_them(
    admin_client, org, receiver, django_capture_on_commit_callbacks
):
    rule = alertrule_create(
        organization=org,
        actor=SYSTEM,
        name="Spike",
        metric="requests",
        threshold=10,
        channel="slack",
        destination=receiver.url,
    )
    delivery = AlertDelivery.objects.create(
        rule=rule,
        window_start=timezone.now() - timedelta(hours=1),
        value=12,
        message="12 requests",
        status="failed",
        attempts=8,
        last_error="The receiver answered HTTP 500.",
    )

    assert admin_client.get("/admin/alerts/alertdelivery/").status_code == 200
    assert admin_client.get("/admin/alerts/alertdelivery/add/").status_code == 403
    change = admin_client.post(
        f"/admin/alerts/alertdelivery/{delivery.pk}/change/", {"status": "delivered"}
    )
    assert change.status_code == 403

    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(
            "/admin/alerts/alertdelivery/",
            {"action": "retry_now", "_selected_action": [delivery.pk]},
        )

    # Queued for an outbound worker, not sent inside the web request.
    delivery.refresh_from_db()
    assert delivery.status == "pending"
    assert receiver.requests == []
    (message,) = OrmQ.objects.filter(key=OUTBOUND_CLUSTER)
    assert message.task["func"] == "webhooks.tasks.deliver_to_destination"
    assert AuditEvent.objects.filter(action="alert_delivery.retried").exists()

    deliver_to_destination(*message.task["args"])
    delivery.refresh_from_db()
    assert delivery.status == "succeeded"
    assert receiver.json(0)["text"].endswith("12 requests")
