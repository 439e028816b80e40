"""Create, change and delete an organization's alert rules, and retry a delivery.

Each function takes the ``actor`` who caused the change and writes the audit row in the same
transaction. Invalid input is refused with ``InvalidRequest`` carrying every field's error.
"""

from django.db import transaction

from accounts.audit import Actor, audit_record
from accounts.models import Organization
from alerts.limits import alertrule_check_limit
from alerts.models import AlertDelivery, AlertRule
from alerts.validation import (
    clean_api_key,
    clean_destination,
    clean_threshold,
    clean_window,
)
from apikeys.keys.models import ApiKey
from perceptis.errors import InvalidRequest
from perceptis.validation import clean_choice, clean_fields, clean_name
from webhooks.delivery import delivery_requeue
from webhooks.services import new_signing_secret

Metric = AlertRule.Metric
Channel = AlertRule.Channel

# Fields whose values are not written to the audit log: a Slack URL is itself a credential.
_SECRET_FIELDS = {"destination", "signing_secret"}


def alertrule_clean(*, organization: Organization, **fields) -> dict:
    """Return the cleaned rule fields, or raise ``InvalidRequest`` with every field's error.

    ``fields`` are those of ``alertrule_create``; the admin's form calls this to show errors.
    """
    metric = fields.get("metric")
    channel = fields.get("channel")
    checks = {
        "name": lambda: clean_name(fields.get("name"), what="rule"),
        "metric": lambda: clean_choice(metric, Metric.values, "The metric"),
        "threshold": lambda: clean_threshold(fields.get("threshold"), metric),
        "window_minutes": lambda: clean_window(fields.get("window_minutes", 60)),
        "api_key": lambda: clean_api_key(fields.get("api_key"), organization, metric),
        "channel": lambda: clean_choice(channel, Channel.values, "The channel"),
        "destination": lambda: clean_destination(channel, fields.get("destination")),
        "enabled": lambda: bool(fields.get("enabled", True)),
    }
    cleaned = clean_fields(checks)
    if cleaned["metric"] == Metric.KEY_EXPIRING:
        # Expiry warnings are evaluated once a day.
        cleaned["window_minutes"] = 24 * 60
    return cleaned


def _audit_value(field: str, value):
    if field in _SECRET_FIELDS:
        return "(changed)"
    if isinstance(value, ApiKey):
        return value.key_id
    return value


@transaction.atomic
def alertrule_create(
    *,
    organization: Organization,
    actor: Actor,
    name: str,
    metric: str,
    threshold,
    channel: str,
    destination: str,
    window_minutes=60,
    api_key: ApiKey | str | None = None,
    enabled: bool = True,
) -> AlertRule:
    """Create an alert rule; a webhook rule gets a new signing secret (at most 50 per org)."""
    alertrule_check_limit(organization=organization)
    cleaned = alertrule_clean(
        organization=organization,
        name=name,
        metric=metric,
        threshold=threshold,
        window_minutes=window_minutes,
        api_key=api_key,
        channel=channel,
        destination=destination,
        enabled=enabled,
    )
    rule = AlertRule.objects.create(
        organization=organization,
        created_by=actor.user,
        signing_secret=new_signing_secret() if cleaned["channel"] == Channel.WEBHOOK else "",
        **cleaned,
    )
    audit_record(
        actor=actor,
        action="alert_rule.created",
        organization=organization,
        target=rule,
        metadata={
            "metric": rule.metric,
            "threshold": rule.threshold,
            "window_minutes": rule.window_minutes,
            "channel": rule.channel,
            "api_key": rule.api_key.key_id if rule.api_key else None,
        },
    )
    return rule


# The fields of a rule that people set (create, update, the forms of admin and pages).
RULE_FIELDS = (
    "name",
    "metric",
    "threshold",
    "window_minutes",
    "api_key",
    "channel",
    "destination",
    "enabled",
)


@transaction.atomic
def alertrule_update(
    *,
    rule: AlertRule,
    actor: Actor,
    rotate_signing_secret: bool = False,
    adopt_standard_signature: bool = False,
    **changes,
) -> AlertRule:
    """Change a rule; only the fields given change (see ``alertrule_create`` for them).

    A rule that becomes a webhook rule gets a signing secret (Standard Webhooks);
    ``rotate_signing_secret`` replaces it. ``adopt_standard_signature`` moves a rule off the
    deprecated ``Perceptis-Signature`` scheme, with a new secret; there is no way back. Past
    deliveries are kept.
    """
    unknown = sorted(set(changes) - set(RULE_FIELDS))
    if unknown:
        raise InvalidRequest(
            "Unknown fields.", fields={f: ["This field cannot be changed."] for f in unknown}
        )
    rule = AlertRule.objects.select_for_update().get(pk=rule.pk)
    current = {f: getattr(rule, f) for f in RULE_FIELDS}
    cleaned = alertrule_clean(organization=rule.organization, **{**current, **changes})
    diff = {}
    for field, value in cleaned.items():
        old = current[field]
        if old != value:
            diff[field] = {"from": _audit_value(field, old), "to": _audit_value(field, value)}
            setattr(rule, field, value)
    adopt = adopt_standard_signature and rule.legacy_signature
    if adopt or (rule.legacy_signature and not rule.signing_secret):
        rule.legacy_signature = False
        diff["legacy_signature"] = {"from": True, "to": False}
    if rule.channel == Channel.WEBHOOK and (
        rotate_signing_secret or adopt or not rule.signing_secret
    ):
        rule.signing_secret = new_signing_secret()
        diff["signing_secret"] = {"from": "(changed)", "to": "(changed)"}
    elif rule.channel != Channel.WEBHOOK and rule.signing_secret:
        rule.signing_secret = ""
    if diff:
        rule.save()
        audit_record(
            actor=actor,
            action="alert_rule.updated",
            organization=rule.organization,
            target=rule,
            metadata={"changes": diff},
        )
    return rule


@transaction.atomic
def alertrule_delete(*, rule: AlertRule, actor: Actor) -> None:
    """Delete a rule and the record of its deliveries."""
    audit_record(
        actor=actor,
        action="alert_rule.deleted",
        organization=rule.organization,
        target=rule,
        metadata={"metric": rule.metric, "channel": rule.channel},
    )
    rule.delete()


@transaction.atomic
def alertdelivery_retry(*, delivery: AlertDelivery, actor: Actor, now=None) -> AlertDelivery:
    """Make a delivery due now and queue it for an outbound worker; return it.

    Nothing is sent here (admin calls this inside a web request). A succeeded alert is left
    alone; a failed one gets one more attempt (failed again if that attempt fails).
    """
    if delivery_requeue(delivery=delivery, now=now):
        audit_record(
            actor=actor,
            action="alert_delivery.retried",
            organization=delivery.rule.organization,
            target=delivery.rule,
            metadata={"delivery": delivery.pk},
        )
    delivery.refresh_from_db()
    return delivery
