"""Refusals of billing: each with its stable code."""

from rest_framework import status

from perceptis.errors import DomainError


class ModelNotAvailable(DomainError):
    code = "model_not_available"
    status_code = status.HTTP_400_BAD_REQUEST
    default_message = "This model does not exist or the organization's plan may not use it."


class SpendLimitReached(DomainError):
    code = "spend_limit_reached"
    status_code = status.HTTP_402_PAYMENT_REQUIRED
    default_message = "This job would take the API key past its spend limit for the period."


class OrgSpendLimitReached(DomainError):
    code = "org_spend_limit_reached"
    status_code = status.HTTP_402_PAYMENT_REQUIRED
    default_message = "This job would take the organization past its monthly spend limit."


class InsufficientCredits(DomainError):
    code = "insufficient_credits"
    status_code = status.HTTP_402_PAYMENT_REQUIRED
    default_message = "The organization does not have enough credits for this job."


class ProjectSpendLimitReached(DomainError):
    code = "project_spend_limit_reached"
    status_code = status.HTTP_402_PAYMENT_REQUIRED
    default_message = "This job would take the key's project past its monthly spend limit."
