"""Reads of webhook endpoints and deliveries, always scoped to one organization."""

import re

from accounts.models import Organization
from webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint

# Only ids that could exist reach the database (PostgreSQL refuses NUL in a text parameter).
_ENDPOINT_ID = re.compile(r"we_[A-Za-z0-9]{1,40}")
_MESSAGE_ID = re.compile(r"msg_[A-Za-z0-9]{1,40}")


def webhookendpoint_list(
    *, organization: Organization, environment: str | None = None, project: str | None = None
):
    """Return the organization's endpoints, newest first; of one environment and of one project
    (its ``proj_…`` id: not the endpoints of every project) if given."""
    endpoints = WebhookEndpoint.objects.filter(organization=organization)
    if environment is not None:
        endpoints = endpoints.filter(environment=environment)
    if project is not None:
        endpoints = endpoints.filter(project_id=project)
    return endpoints.select_related("project").order_by("-created_at", "-id")


def webhookendpoint_find(
    *,
    organization: Organization,
    public_id,
    environment: str | None = None,
    project: str | None = None,
) -> WebhookEndpoint | None:
    """Return the organization's endpoint (of ``environment`` and ``project`` if given), or
    None."""
    if not isinstance(public_id, str) or not _ENDPOINT_ID.fullmatch(public_id):
        return None
    endpoints = webhookendpoint_list(
        organization=organization, environment=environment, project=project
    )
    return endpoints.filter(public_id=public_id).first()


def webhookdelivery_list(*, endpoint: WebhookEndpoint):
    """Return the endpoint's deliveries, newest first."""
    return WebhookDelivery.objects.filter(endpoint=endpoint).order_by("-created_at", "-id")


def webhookdelivery_find(*, endpoint: WebhookEndpoint, public_id) -> WebhookDelivery | None:
    """Return the endpoint's delivery with this message id, or None."""
    if not isinstance(public_id, str) or not _MESSAGE_ID.fullmatch(public_id):
        return None
    return WebhookDelivery.objects.filter(endpoint=endpoint, public_id=public_id).first()


def webhookattempt_list(*, delivery: WebhookDelivery):
    """Return the delivery's attempts, newest first."""
    return WebhookAttempt.objects.filter(delivery=delivery).order_by("-started_at", "-id")
