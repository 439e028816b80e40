"""Refusals of API key changes and of API requests, each with its stable code."""

from rest_framework import status

from perceptis.errors import DomainError

# Every 401 names the scheme a client should answer with, as RFC 6750 asks.
WWW_AUTHENTICATE = 'Bearer realm="perceptis"'


class KeyRefused(DomainError):
    """A missing or unusable key (401), with ``WWW-Authenticate``."""

    status_code = status.HTTP_401_UNAUTHORIZED
    headers = {"WWW-Authenticate": WWW_AUTHENTICATE}


class MissingApiKey(KeyRefused):
    code = "missing_api_key"
    default_message = "Send an API key in the Authorization header: 'Bearer <key>'."


class InvalidApiKey(KeyRefused):
    code = "invalid_api_key"
    default_message = "The API key is not valid."


class ApiKeyRevoked(KeyRefused):
    code = "api_key_revoked"
    default_message = "This API key has been revoked."


class ApiKeyInactive(KeyRefused):
    code = "api_key_inactive"
    default_message = "This API key is disabled. An organization admin can enable it again."


class ApiKeyExpired(KeyRefused):
    code = "api_key_expired"
    default_message = "This API key has expired."


class EnvironmentMismatch(KeyRefused):
    code = "environment_mismatch"
    default_message = "This API key belongs to another environment."


class IpNotAllowed(DomainError):
    code = "ip_not_allowed"
    status_code = status.HTTP_403_FORBIDDEN
    default_message = "Requests from this IP address are not allowed for this API key."


class PlanNotEligible(DomainError):
    code = "plan_not_eligible"
    status_code = status.HTTP_403_FORBIDDEN
    default_message = (
        "API access needs a Business or Enterprise plan; this organization's plan does not "
        "include it."
    )


class RateLimited(DomainError):
    code = "rate_limited"
    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_message = "Too many requests for this API key; retry after the time in Retry-After."


class DailyQuotaExceeded(DomainError):
    code = "daily_quota_exceeded"
    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_message = "This test key has used its daily request quota; it resets at 00:00 UTC."


class KeyLimitReached(DomainError):
    code = "key_limit_reached"
    status_code = status.HTTP_403_FORBIDDEN
    default_message = "The organization's plan allows no more keys of this type."


class KeyNotRevoked(DomainError):
    code = "key_not_revoked"
    status_code = status.HTTP_409_CONFLICT
    default_message = "Only revoked keys can be deleted; revoke the key first."


class KeyRevoked(DomainError):
    code = "key_revoked"
    status_code = status.HTTP_409_CONFLICT
    default_message = "This key is revoked; revocation is permanent."


class KeyNotFound(DomainError):
    code = "key_not_found"
    status_code = status.HTTP_404_NOT_FOUND
    default_message = "No such API key in this organization."


class TooManyFailedAttempts(DomainError):
    code = "too_many_failed_attempts"
    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_message = (
        "Too many requests with invalid API keys from this address; retry after the time in "
        "Retry-After."
    )


class KeyCreationLimitReached(DomainError):
    code = "key_creation_limit_reached"
    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_message = "The organization has created as many keys today as its plan allows."


class ExceedsOwnPrivileges(DomainError):
    code = "exceeds_own_privileges"
    status_code = status.HTTP_403_FORBIDDEN
    default_message = "This API key cannot create or change a key more powerful than itself."


class KeyPolicyViolation(DomainError):
    code = "key_policy_violation"
    status_code = status.HTTP_400_BAD_REQUEST
    default_message = "The key breaks the organization's key policy."
