"""Alert rule services: validation with field errors, signing secrets, audit rows."""

import base64

import pytest

from accounts.models import AuditEvent
from alerts.models import AlertRule
from alerts.services import alertrule_create, alertrule_delete, alertrule_update
from perceptis.errors import InvalidRequest
from tests.helpers import SYSTEM


def create(org, **fields):
    data = {
        "name": "Spike",
        "metric": "requests",
        "threshold": 100,
        "window_minutes": 60,
        "channel": "webhook",
        "destination": "https://hooks.example.com/perceptis",
    }
    data.update(fields)
    return alertrule_create(organization=org, actor=SYSTEM, **data)


def test_webhook_rule_gets_a_signing_secret_and_an_audit_row(org):
    rule = create(org)

    assert rule.signing_secret.startswith("whsec_")
    assert len(base64.b64decode(rule.signing_secret.removeprefix("whsec_"))) == 32
    event = AuditEvent.objects.get(action="alert_rule.created")
    assert event.organization == org
    assert event.target_id == str(rule.pk)
    assert rule.signing_secret not in str(event.metadata)


def test_email_and_slack_rules_have_no_signing_secret(org):
    assert create(org, channel="email", destination="ops@example.com").signing_secret == ""
    assert create(org, channel="slack").signing_secret == ""


def test_invalid_rule_is_refused_with_every_field_error_and_nothing_written(org):
    with pytest.raises(InvalidRequest) as refused:
        create(
            org,
            name=" ",
            metric="error_rate",
            threshold=150,
            window_minutes=45,
            destination="ftp://files.example.com/x",
        )

    assert set(refused.value.fields) == {"name", "threshold", "window_minutes", "destination"}
    assert not AlertRule.objects.exists()
    assert not AuditEvent.objects.filter(action="alert_rule.created").exists()


@pytest.mark.parametrize(
    ("channel", "destination"),
    [
        ("email", "not-an-address"),
        ("email", "https://example.com"),
        ("webhook", "ops@example.com"),
        ("slack", "javascript:alert(1)"),
        ("webhook", "https://user:pass@example.com/hook"),
        ("webhook", "http://"),
    ],
)
def test_destination_must_fit_the_channel(org, channel, destination):
    with pytest.raises(InvalidRequest) as refused:
        create(org, channel=channel, destination=destination)

    assert list(refused.value.fields) == ["destination"]


@pytest.mark.parametrize("threshold", ["many", None, float("nan"), float("inf"), True])
def test_threshold_must_be_a_number(org, threshold):
    with pytest.raises(InvalidRequest) as refused:
        create(org, threshold=threshold)

    assert "threshold" in refused.value.fields


def test_credits_rule_cannot_be_scoped_to_a_key(org, make_key):
    key, _ = make_key(org)

    with pytest.raises(InvalidRequest) as refused:
        create(org, metric="credits_below", threshold=10, api_key=key)

    assert list(refused.value.fields) == ["api_key"]


def test_another_organizations_key_cannot_be_watched(org, make_org, make_key):
    foreign, _ = make_key(make_org())

    with pytest.raises(InvalidRequest) as refused:
        create(org, api_key=foreign.key_id)

    assert list(refused.value.fields) == ["api_key"]


def test_key_expiry_rules_use_one_day_windows(org):
    rule = create(org, metric="key_expiring", threshold=7, window_minutes=60)

    assert rule.window_minutes == 24 * 60


def test_update_changes_only_given_fields_and_audits_without_the_destination(org):
    rule = create(org, channel="slack", destination="https://hooks.slack.com/services/T0/B0/s3cret")

    rule = alertrule_update(rule=rule, actor=SYSTEM, threshold=250, enabled=False)

    rule.refresh_from_db()
    assert (rule.threshold, rule.enabled, rule.name) == (250, False, "Spike")
    event = AuditEvent.objects.get(action="alert_rule.updated")
    assert set(event.metadata["changes"]) == {"threshold", "enabled"}

    alertrule_update(rule=rule, actor=SYSTEM, destination="https://hooks.slack.com/services/T/B/x")
    event = AuditEvent.objects.filter(action="alert_rule.updated").first()
    assert "s3cret" not in str(event.metadata)
    assert event.metadata["changes"]["destination"] == {"from": "(changed)", "to": "(changed)"}


def test_switching_to_webhook_creates_a_secret_and_rotation_replaces_it(org):
    rule = create(org, channel="email", destination="ops@example.com")

    rule = alertrule_update(
        rule=rule, actor=SYSTEM, channel="webhook", destination="https://example.com/hook"
    )
    first = rule.signing_secret
    rule = alertrule_update(rule=rule, actor=SYSTEM, rotate_signing_secret=True)

    assert first.startswith("whsec_")
    assert rule.signing_secret.startswith("whsec_") and rule.signing_secret != first


def test_invalid_update_changes_nothing(org):
    rule = create(org)

    with pytest.raises(InvalidRequest):
        alertrule_update(rule=rule, actor=SYSTEM, threshold=-1, name="Renamed")

    rule.refresh_from_db()
    assert (rule.name, rule.threshold) == ("Spike", 100)


def test_delete_removes_the_rule_and_audits(org):
    rule = create(org)
    pk = rule.pk

    alertrule_delete(rule=rule, actor=SYSTEM)

    assert not AlertRule.objects.exists()
    assert AuditEvent.objects.filter(action="alert_rule.deleted", target_id=str(pk)).exists()
