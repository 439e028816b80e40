"""django-q2 task entry points of webhooks (outbound cluster). They only call the real work."""

from webhooks.delivery import webhook_deliver, webhooks_deliver_due


def deliver_webhook(delivery_id: int):
    return webhook_deliver(delivery_id=delivery_id)


def deliver_due_webhooks():
    return webhooks_deliver_due()
