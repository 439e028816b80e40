"""django-q2 task entry points for alerts and retention. They only call the real functions."""

from apikeys.alerts import alerts_deliver_due, alerts_evaluate
from apikeys.retention import purge_old_data as _purge_old_data


def evaluate_alerts():
    return alerts_evaluate()


def deliver_alerts():
    return alerts_deliver_due()


def purge_old_data():
    return _purge_old_data()
