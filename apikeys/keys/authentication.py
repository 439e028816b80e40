"""DRF authentication with ``Authorization: Bearer <api key>``.

It follows DRF's contract: ``None`` when the request carries no bearer credential (so the
permission check answers 401 ``missing_api_key``), an exception when it carries a bad one, and
``authenticate_header`` so that DRF answers 401 rather than 403. A malformed key is refused
before any query. A well-formed one costs one indexed query, or, with Redis, one script call
(two on Redis Cluster) that also counts the request (``keycache``); Redis being unavailable,
the database answers.
"""

from django.conf import settings
from django.db import router
from django.utils import timezone
from rest_framework.authentication import BaseAuthentication

from apikeys.keys import keycache, keyformat, lookup, ratelimit
from apikeys.keys.errors import (
    WWW_AUTHENTICATE,
    ApiKeyExpired,
    ApiKeyInactive,
    ApiKeyRevoked,
    EnvironmentMismatch,
    InvalidApiKey,
    TooManyFailedAttempts,
)
from apikeys.keys.models import ApiKey, KeySecret
from apikeys.keys.pipeline import RequestState, attach_state
from apikeys.keys.process_state import state
from apikeys.keys.services import apikey_record_use
from perceptis.clientip import client_ip
from perceptis.errors import DomainError

EXPOSED_MESSAGE = (
    "This API key was revoked because it was reported exposed (found in public, e.g. by "
    "GitHub secret scanning). Create a new key in Developer Settings and keep it secret."
)


def bearer_token(request) -> str | None:
    """Return the credential of a ``Bearer`` Authorization header, or None if there is none."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, credential = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return credential.strip()


def _read_model_name(request) -> str:
    """The cached answer the view would take, named from the URL (``read_model``), or ''."""
    context = getattr(request, "parser_context", None) or {}
    name = getattr(context.get("view"), "read_model", None)
    return name(context.get("kwargs") or {}) or "" if name else ""


def _record_use(key: ApiKey, request, ip: str | None, now) -> None:
    # This process's last check of each key's last use, so a cached key costs no query a request.
    checked = state.use_recorded.get(key.key_id)
    moment = now.timestamp()
    if checked is not None and moment - checked < settings.APIKEYS_LAST_USED_INTERVAL_SECONDS:
        return
    state.use_recorded[key.key_id] = moment
    apikey_record_use(key=key, ip=ip, user_agent=request.META.get("HTTP_USER_AGENT", ""), now=now)


def _pepper_known(pepper_id: str) -> bool:
    return pepper_id == settings.API_KEY_PEPPER_ID or pepper_id in settings.API_KEY_RETIRED_PEPPERS


class ApiKeyAuthentication(BaseAuthentication):
    # What it can answer, for the OpenAPI schema (perceptis.openapi).
    errors = (
        InvalidApiKey,
        ApiKeyRevoked,
        ApiKeyInactive,
        ApiKeyExpired,
        EnvironmentMismatch,
        TooManyFailedAttempts,
    )

    def authenticate(self, request):
        credential = bearer_token(request)
        if credential is None:
            return None
        return self.authenticate_credentials(credential, request)

    def authenticate_credentials(self, credential: str, request):
        ip = client_ip(request)
        well_formed = bool(credential) and keyformat.parse(credential) is not None
        secret_hash = keyformat.hash_key(credential) if well_formed else None
        retry_after = ratelimit.failed_auth_retry_after(ip)
        # A throttled address: guessing is refused before any lookup (a malformed key, or one
        # that failed this minute); any other key is checked and served if it verifies.
        if retry_after is not None and (
            not well_formed or ratelimit.failed_auth_known(secret_hash)
        ):
            raise TooManyFailedAttempts(retry_after=retry_after)
        try:
            return self._check(credential, secret_hash, request, ip)
        except DomainError as refused:
            if refused.status_code != 401:
                raise
            ratelimit.failed_auth_record(ip, secret_hash)
            if retry_after is not None:
                raise TooManyFailedAttempts(retry_after=retry_after) from None
            raise

    def _check(self, credential: str, secret_hash: str | None, request, ip: str | None):
        if not credential:
            raise InvalidApiKey("The Authorization header has no key after 'Bearer'.")
        if secret_hash is None:
            raise InvalidApiKey()
        moment = ratelimit.now()
        window, day = int(moment // 60), int(moment // 86400)
        counting = settings.APIKEYS_RATE_LIMITS_ENABLED
        found = missing = counts = read = None
        if keycache.enabled():
            found = keycache.fetch(
                secret_hash,
                record_format=lookup.RECORD_FORMAT,
                window=window,
                day=day,
                count=counting,
                read=_read_model_name(request),
            )
            if isinstance(found, keycache.Missing):
                found, missing = None, found
        secret = None
        if found is not None:
            secret = lookup.build(router.db_for_read(KeySecret), found.values)
            counts, read = found.counts, found.read
            if not _pepper_known(secret.pepper_id):  # cached before its pepper was retired
                if counts.minute > 0:
                    ratelimit.refund(secret.key, counts, now=moment)
                secret = counts = read = None
        if secret is None:
            looked_up = lookup.lookup(credential, secret_hash)
            if looked_up is None:
                raise InvalidApiKey()
            secret = looked_up[1]
        key = secret.key
        now = timezone.now()
        try:
            self._refuse_unusable(key, secret, now)
        except DomainError:
            if counts is not None and counts.minute > 0:
                ratelimit.refund(key, counts, now=moment)
            raise
        if missing is not None:
            counts = keycache.store(
                secret_hash,
                lookup.record(secret),
                since=missing.since,
                window=window,
                day=day,
                count=counting,
            )
        _record_use(key, request, ip, now)
        attach_state(
            request,
            RequestState(key=key, client_ip=ip, counts=counts, read_model=read, at=moment),
        )
        return key, key

    @staticmethod
    def _refuse_unusable(key: ApiKey, secret: KeySecret, now) -> None:
        if not secret.is_current(now):
            raise InvalidApiKey("This secret was replaced when the key was rotated.")
        if key.status == ApiKey.Status.REVOKED or key.deleted_at is not None:
            # ``revoked_reason`` is not among the lookup's columns: read only on this path.
            if key.revoked_reason == ApiKey.RevokedReason.EXPOSED:
                raise ApiKeyRevoked(EXPOSED_MESSAGE)
            raise ApiKeyRevoked()
        if key.status == ApiKey.Status.INACTIVE:
            raise ApiKeyInactive()
        if key.is_expired(now):
            raise ApiKeyExpired()
        if key.environment != settings.PERCEPTIS_ENVIRONMENT:
            raise EnvironmentMismatch(
                f"This is a {key.environment} key; this API serves "
                f"{settings.PERCEPTIS_ENVIRONMENT}."
            )

    def authenticate_header(self, request):
        return WWW_AUTHENTICATE
