"""django-q2 task entry points for alerts. They only call the real functions.

Alert deliveries have no task of their own: the webhooks outbox engine sends them.
"""

from alerts.evaluation import alerts_evaluate
from alerts.models import AlertDelivery
from webhooks.retention import outbox_purge


def evaluate_alerts():
    return alerts_evaluate()


def purge_alert_deliveries(*, now=None, batch_size: int | None = None) -> int:
    """Delete finished alert deliveries fired more than ``WEBHOOKS_RETENTION_DAYS`` ago."""
    return outbox_purge(
        AlertDelivery.objects.all(), made_field="fired_at", now=now, batch_size=batch_size
    )
