"""DRF authentication with ``Authorization: Bearer <api key>``.

It follows DRF's contract: ``None`` when the request carries no bearer credential (so the
permission check answers 401 ``missing_api_key``), an exception when it carries a bad one, and
``authenticate_header`` so that DRF answers 401 rather than 403. A malformed key is refused
before any query; a well-formed one costs one indexed query.
"""

from django.conf import settings
from django.utils import timezone
from rest_framework.authentication import BaseAuthentication

from apikeys import keys
from apikeys.clientip import client_ip
from apikeys.errors import (
    ApiKeyExpired,
    ApiKeyInactive,
    ApiKeyRevoked,
    EnvironmentMismatch,
    InvalidApiKey,
)
from apikeys.models import ApiKey, KeySecret
from apikeys.services import apikey_record_use
from perceptis.errors import ApiError

WWW_AUTHENTICATE = 'Bearer realm="perceptis"'
# The columns the pipeline reads; everything else stays in the database.
_KEY_FIELDS = (
    "expires_at",
    "key__id",
    "key__key_id",
    "key__name",
    "key__type",
    "key__environment",
    "key__permissions",
    "key__rate_limit_per_minute",
    "key__expires_at",
    "key__ip_allowlist",
    "key__status",
    "key__deleted_at",
    "key__last_used_at",
    "key__organization__id",
    "key__organization__slug",
    "key__organization__name",
    "key__organization__plan__id",
    "key__organization__plan__code",
    "key__organization__plan__name",
    "key__organization__plan__api_access",
    "key__organization__plan__rate_limit_per_minute",
)


def _refuse(error_class, message: str | None = None):
    return ApiError(error_class(message), headers={"WWW-Authenticate": WWW_AUTHENTICATE})


def bearer_token(request) -> str | None:
    """Return the credential of a ``Bearer`` Authorization header, or None if there is none."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, credential = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return credential.strip()


def lookup_key(plaintext: str) -> tuple[ApiKey, KeySecret] | None:
    """Return the key and secret for a plaintext key, or None. Malformed keys cost no query."""
    if keys.parse(plaintext) is None:
        return None
    try:
        secret = (
            KeySecret.objects.select_related("key__organization__plan")
            .only(*_KEY_FIELDS)
            .get(secret_hash=keys.hash_key(plaintext))
        )
    except KeySecret.DoesNotExist:
        return None
    return secret.key, secret


class ApiKeyAuthentication(BaseAuthentication):
    def authenticate(self, request):
        credential = bearer_token(request)
        if credential is None:
            return None
        return self.authenticate_credentials(credential, request)

    def authenticate_credentials(self, credential: str, request):
        if not credential:
            raise _refuse(InvalidApiKey, "The Authorization header has no key after 'Bearer'.")
        found = lookup_key(credential)
        if found is None:
            raise _refuse(InvalidApiKey)
        key, secret = found
        now = timezone.now()
        if not secret.is_current(now):
            raise _refuse(InvalidApiKey, "This secret was replaced when the key was rotated.")
        if key.status == ApiKey.Status.REVOKED or key.deleted_at is not None:
            raise _refuse(ApiKeyRevoked)
        if key.status == ApiKey.Status.INACTIVE:
            raise _refuse(ApiKeyInactive)
        if key.expires_at is not None and key.expires_at <= now:
            raise _refuse(ApiKeyExpired)
        if key.environment != settings.PERCEPTIS_ENVIRONMENT:
            raise _refuse(
                EnvironmentMismatch,
                f"This is a {key.environment} key; this API serves "
                f"{settings.PERCEPTIS_ENVIRONMENT}.",
            )
        ip = client_ip(request)
        apikey_record_use(
            key=key, ip=ip, user_agent=request.META.get("HTTP_USER_AGENT", ""), now=now
        )
        # Django's request (not DRF's wrapper) carries the key for middleware that meters usage.
        request._request.api_key = key
        request._request.client_ip = ip
        return key, key

    def authenticate_header(self, request):
        return WWW_AUTHENTICATE
