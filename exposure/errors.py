"""Refusals of the exposed-key endpoints, each with its stable code."""

from rest_framework import status

from perceptis.errors import DomainError


class InvalidSignature(DomainError):
    code = "invalid_signature"
    status_code = status.HTTP_401_UNAUTHORIZED
    default_message = (
        "The Github-Public-Key-Signature header does not sign this body with the key named in "
        "Github-Public-Key-Identifier."
    )


class PayloadTooLarge(DomainError):
    code = "payload_too_large"
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_message = "The body is too large: at most 1 MB and 1,000 tokens."


class RevocationRateLimited(DomainError):
    code = "rate_limited"
    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_message = (
        "Too many revocation requests from this address; retry after the time in Retry-After."
    )
