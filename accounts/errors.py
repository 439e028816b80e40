"""Refusals about people, organizations and plans, each with its stable code."""

from perceptis.errors import DomainError


class PlanNotFound(DomainError):
    code = "plan_not_found"
    default_message = "No such plan."


class TwoFactorNotSetUp(DomainError):
    code = "two_factor_not_set_up"
    status_code = 409
    default_message = "Set up two-factor for yourself before requiring it of everyone."


class OrganizationNotFound(DomainError):
    code = "organization_not_found"
    status_code = 404
    default_message = "No such organization."
