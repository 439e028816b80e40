"""Evaluate alert rules: measure each over its window and record a firing once per window."""

import logging
import secrets
from datetime import UTC, datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from alerts.measurement import Measurement
from alerts.models import AlertDelivery, AlertRule
from alerts.spend import measure_key_spend, measure_org_spend
from apikeys.keys.models import ApiKey
from apikeys.usage.selectors import usage_summary
from billing.selectors import credits_balance
from webhooks.delivery import outbox_enqueue

logger = logging.getLogger(__name__)

Metric = AlertRule.Metric

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def window_bounds(rule: AlertRule, now: datetime) -> tuple[datetime, datetime]:
    """Return the start and end of the rule's window that contains ``now``."""
    minutes = 24 * 60 if rule.metric == Metric.KEY_EXPIRING else rule.window_minutes
    size = timedelta(minutes=max(minutes, 1))
    start = _EPOCH + ((now - _EPOCH) // size) * size
    return start, start + size


def _window_label(start: datetime, end: datetime) -> str:
    hours = (end - start) / timedelta(hours=1)
    length = f"{hours:g} hour" + ("" if hours == 1 else "s")
    return f"{length} from {start:%Y-%m-%d %H:%M} UTC"


def _scope(rule: AlertRule) -> str:
    if rule.api_key is None:
        return "across all keys"
    return f"on key {rule.api_key.name} ({rule.api_key.key_id})"


def measure(rule: AlertRule, *, now: datetime) -> Measurement:
    """Compute the rule's metric for the window containing ``now`` and whether it fires."""
    start, end = window_bounds(rule, now)
    window = _window_label(start, end)
    org = rule.organization
    threshold = rule.threshold
    if rule.metric in (Metric.REQUESTS, Metric.ERROR_RATE, Metric.P95_LATENCY):
        summary = usage_summary(organization=org, since=start, api_key=rule.api_key)
        if rule.metric == Metric.REQUESTS:
            value = float(summary.requests)
            return Measurement(
                value,
                value > threshold,
                f"{value:g} requests {_scope(rule)} in the {window} (alert above {threshold:g}).",
            )
        if rule.metric == Metric.ERROR_RATE:
            value = round(summary.error_rate * 100, 2)
            return Measurement(
                value,
                summary.requests > 0 and value > threshold,
                f"Error rate {value:g}% ({summary.errors} of {summary.requests} requests) "
                f"{_scope(rule)} in the {window} (alert above {threshold:g}%).",
            )
        value = summary.p95_ms if summary.p95_ms is not None else 0.0
        return Measurement(
            value,
            summary.p95_ms is not None and value > threshold,
            f"p95 latency {value:g} ms {_scope(rule)} in the {window} "
            f"(alert above {threshold:g} ms).",
        )
    if rule.metric == Metric.CREDITS_BELOW:
        value = float(credits_balance(organization=org))
        return Measurement(
            value,
            value < threshold,
            f"{org.name} has {value:g} credits left (alert below {threshold:g}).",
        )
    if rule.metric == Metric.KEY_EXPIRING:
        keys = ApiKey.objects.filter(
            organization=org,
            status=ApiKey.Status.ACTIVE,
            deleted_at__isnull=True,
            expires_at__gt=now,
            expires_at__lte=now + timedelta(days=threshold),
        ).order_by("expires_at")
        if rule.api_key_id is not None:
            keys = keys.filter(pk=rule.api_key_id)
        # Only public identity: Key ID, name, expiry. Never a secret, hash or hint of one.
        expiring = [
            {"id": k.key_id, "name": k.name, "expires_at": k.expires_at.isoformat()} for k in keys
        ]
        listed = ", ".join(
            f"{k['name']} ({k['id']}) on {k['expires_at'][:10]}" for k in expiring[:10]
        )
        more = f" and {len(expiring) - 10} more" if len(expiring) > 10 else ""
        return Measurement(
            float(len(expiring)),
            bool(expiring),
            f"{len(expiring)} API key(s) of {org.name} expire within {threshold:g} days: "
            f"{listed}{more}.",
            {"keys": expiring},
        )
    if rule.metric == Metric.KEY_SPEND:
        return measure_key_spend(rule, now=now)
    if rule.metric == Metric.ORG_SPEND:
        return measure_org_spend(rule, now=now)
    raise ValueError(f"Unknown metric {rule.metric!r}")


def _payload(rule: AlertRule, m: Measurement, start: datetime, end: datetime, now) -> dict:
    return {
        "id": "alert_" + secrets.token_hex(12),
        "type": "alert.fired",
        "rule": {"id": rule.pk, "name": rule.name},
        "metric": rule.metric,
        "value": m.value,
        "threshold": rule.threshold,
        "window": {
            "start": start.isoformat(),
            "end": end.isoformat(),
            "minutes": int((end - start) / timedelta(minutes=1)),
        },
        "organization": {"id": rule.organization.slug, "name": rule.organization.name},
        "api_key": rule.api_key.key_id if rule.api_key else None,
        "message": m.message,
        "fired_at": now.isoformat(),
        **m.extra,
    }


def alerts_evaluate(*, now: datetime | None = None) -> dict:
    """Evaluate every enabled rule; record a delivery for each new firing and queue it.

    Return counts: ``evaluated`` and ``fired`` (new firings). A rule that already fired in its
    current window is not measured again. The deliveries are sent by the webhooks outbox
    engine on an outbound worker, never by the evaluation.
    """
    now = now or timezone.now()
    counts = {"evaluated": 0, "fired": 0}
    fired = []
    rules = AlertRule.objects.filter(enabled=True).select_related("organization", "api_key")
    for rule in rules.order_by("pk").iterator(chunk_size=200):
        start, end = window_bounds(rule, now)
        if AlertDelivery.objects.filter(rule=rule, window_start=start).exists():
            continue
        counts["evaluated"] += 1
        try:
            m = measure(rule, now=now)
        except Exception:
            # One broken rule must not stop the others.
            logger.exception("Alert rule %s could not be evaluated", rule.pk)
            continue
        if not m.fired:
            continue
        try:
            with transaction.atomic():
                delivery = AlertDelivery.objects.create(
                    rule=rule,
                    window_start=start,
                    value=m.value,
                    message=m.message[:500],
                    payload=_payload(rule, m, start, end, now),
                    fired_at=now,
                    next_attempt_at=now,
                )
        except IntegrityError:
            continue  # Another evaluator recorded this window's firing first.
        counts["fired"] += 1
        fired.append(delivery)
    if fired:
        transaction.on_commit(lambda: outbox_enqueue(fired))
    return counts
