"""django-q2 task entry points for alerts. They only call the real functions."""

from apikeys.alerts.delivery import alerts_deliver_due
from apikeys.alerts.evaluation import alerts_evaluate


def evaluate_alerts():
    return alerts_evaluate()


def deliver_alerts():
    return alerts_deliver_due()
