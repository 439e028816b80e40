"""django-q2 task entry points for alerts. They only call the real functions.

Alert deliveries have no task of their own: the webhooks outbox engine sends them.
"""

from alerts.evaluation import alerts_evaluate


def evaluate_alerts():
    return alerts_evaluate()
