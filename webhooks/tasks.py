"""django-q2 task entry points of the outbound engine (outbound cluster). They only call it."""

from django.apps import apps

from webhooks.delivery import destination_deliver, webhooks_deliver_due
from webhooks.models import Outbox


def deliver_to_destination(model_label: str, destination_id, token: str):
    model = apps.get_model(model_label)
    if not issubclass(model, Outbox):
        raise ValueError(f"{model_label} is not an outbox")
    return destination_deliver(model=model, destination_id=destination_id, token=token)


def deliver_due_webhooks():
    return webhooks_deliver_due()
