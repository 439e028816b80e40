"""Refusals of webhook-endpoint requests, each with its stable code."""

from rest_framework import status

from perceptis.errors import DomainError


class WebhookNotFound(DomainError):
    code = "webhook_not_found"
    status_code = status.HTTP_404_NOT_FOUND
    default_message = "No webhook endpoint with this id."


class WebhookLimitReached(DomainError):
    code = "webhook_limit_reached"
    status_code = status.HTTP_403_FORBIDDEN
    default_message = "The organization has as many webhook endpoints as it may have."


class WebhookEndpointDisabled(DomainError):
    code = "webhook_endpoint_disabled"
    status_code = status.HTTP_409_CONFLICT
    default_message = "The endpoint is disabled: enable it to send it events."
