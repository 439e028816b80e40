"""DRF authentication with ``Authorization: Bearer <api key>``.

It follows DRF's contract: ``None`` when the request carries no bearer credential (so the
permission check answers 401 ``missing_api_key``), an exception when it carries a bad one, and
``authenticate_header`` so that DRF answers 401 rather than 403. A malformed key is refused
before any query. A well-formed one costs one indexed query, or, with Redis, one script call
that also counts the request (``keycache``); Redis being unavailable, the database answers.
"""

import weakref

from django.conf import settings
from django.db import connections, router
from django.utils import timezone
from rest_framework.authentication import BaseAuthentication

from accounts.models import Organization, Plan
from apikeys.keys import format as keys
from apikeys.keys import keycache, ratelimit
from apikeys.keys.errors import (
    ApiKeyExpired,
    ApiKeyInactive,
    ApiKeyRevoked,
    EnvironmentMismatch,
    InvalidApiKey,
    TooManyFailedAttempts,
)
from apikeys.keys.models import ApiKey, KeySecret
from apikeys.keys.pipeline import WWW_AUTHENTICATE, RequestState, attach_state, refuse_key
from apikeys.keys.services import apikey_record_use
from perceptis.clientip import client_ip
from perceptis.errors import ApiError

# The columns the pipeline reads, per model along the join; everything else stays in the
# database (and loads on access, as with ``only()``).
_KEY_COLUMNS = (
    (KeySecret, "", ("id", "key", "pepper_id", "expires_at")),
    (
        ApiKey,
        "key__",
        (
            "id",
            "organization",
            "key_id",
            "name",
            "type",
            "environment",
            "permissions",
            "rate_limit_per_minute",
            "expires_at",
            "ip_allowlist",
            "status",
            "deleted_at",
            "last_used_at",
        ),
    ),
    (Organization, "key__organization__", ("id", "name", "slug", "plan")),
    (
        Plan,
        "key__organization__plan__",
        (
            "id",
            "code",
            "name",
            "api_access",
            "rate_limit_per_minute",
            "test_daily_quota",
            "max_jobs_in_flight",
        ),
    ),
)


def _fields():
    # Model.from_db wants the values in the model's field order.
    for model, prefix, names in _KEY_COLUMNS:
        fields = [f for f in model._meta.concrete_fields if f.name in names]
        yield model, prefix, [f.name for f in fields], [f.attname for f in fields]


def _parts():
    parts, start = [], 0
    for model, _, _, attnames in _fields():
        parts.append((model, attnames, start, start + len(attnames)))
        start += len(attnames)
    return parts


_FIELDS = [(model, prefix, names) for model, prefix, names, _ in _fields()]
_PARTS = _parts()  # (model, attnames, start, end) in a row


def _build(alias: str, row) -> KeySecret:
    """The secret, its key, organization and plan from one row of the lookup's columns."""
    secret, key, organization, plan = (
        model.from_db(alias, attnames, row[start:end]) for model, attnames, start, end in _PARTS
    )
    Organization.plan.field.set_cached_value(organization, plan)
    ApiKey.organization.field.set_cached_value(key, organization)
    KeySecret.key.field.set_cached_value(secret, key)
    return secret


def _row(secret: KeySecret) -> tuple:
    """The inverse of ``_build``: the lookup's columns of a secret read from the database."""
    key = secret.key
    objects = (secret, key, key.organization, key.organization.plan)
    return tuple(
        getattr(obj, attname)
        for obj, (_, attnames, _, _) in zip(objects, _PARTS, strict=True)
        for attname in attnames
    )


class _KeyQuery:
    """The key lookup: one indexed query joining secret, key, organization and plan.

    Compiling that join costs more than running it, and its SQL depends only on the database
    backend, so it is compiled once per connection; each request only executes it and builds
    the four objects from the row. On PostgreSQL it is also a prepared statement
    (``APIKEYS_PREPARED_KEY_LOOKUP``), since planning the join costs ten times running it.
    """

    def __init__(self, connection):
        lookups = [prefix + name for _, prefix, names in _FIELDS for name in names]
        queryset = KeySecret.objects.filter(secret_hash="").order_by().values_list(*lookups)
        self.compiler = queryset.query.get_compiler(connection=connection)
        self.sql, params = self.compiler.as_sql()
        if params != ("",):
            raise AssertionError(f"unexpected key lookup parameters {params!r}")
        self.converters = self.compiler.get_converters([col for col, _, _ in self.compiler.select])
        self.prepared_name = None
        if connection.vendor == "postgresql" and settings.APIKEYS_PREPARED_KEY_LOOKUP:
            self.prepared_name = "perceptis_key_lookup"
        self._prepared_on = weakref.WeakSet()  # the raw connections that have it

    def _ensure_prepared(self, connection, cursor) -> None:
        # Tracked per raw connection: Django reconnects under the same wrapper object.
        raw = connection.connection
        if raw in self._prepared_on:
            return
        cursor.execute(
            "SELECT 1 FROM pg_prepared_statements WHERE name = %s", (self.prepared_name,)
        )
        if cursor.fetchone() is None:
            cursor.execute(
                f"PREPARE {self.prepared_name}(text) AS {self.sql.replace('%s', '$1', 1)}"
            )
        self._prepared_on.add(raw)

    def run(self, connection, secret_hash: str) -> KeySecret | None:
        with connection.cursor() as cursor:
            if self.prepared_name is None:
                cursor.execute(self.sql, (secret_hash,))
            else:
                self._ensure_prepared(connection, cursor)
                cursor.execute(f"EXECUTE {self.prepared_name}(%s)", (secret_hash,))
            row = cursor.fetchone()
        if row is None:
            return None
        if self.converters:
            row = next(self.compiler.apply_converters((row,), self.converters))
        return _build(connection.alias, row)


# Per database connection object (one per thread and alias); dropped with the connection.
_key_queries: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


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
    return _lookup(plaintext, keys.hash_key(plaintext))


def _lookup(plaintext: str, secret_hash: str) -> tuple[ApiKey, KeySecret] | None:
    connection = connections[router.db_for_read(KeySecret)]
    query = _key_queries.get(connection)
    if query is None:
        query = _key_queries[connection] = _KeyQuery(connection)
    secret = query.run(connection, secret_hash)
    if secret is None:
        # Keys stored under a retired pepper: one more lookup each, and only for a key the
        # current pepper does not know (unknown keys, or keys made before the new pepper).
        for pepper_id, pepper in settings.API_KEY_RETIRED_PEPPERS.items():
            secret = query.run(connection, keys.hash_key(plaintext, pepper))
            if secret is not None and secret.pepper_id == pepper_id:
                break
            secret = None
    if secret is None:
        return None
    return secret.key, secret


def _record(secret: KeySecret) -> keycache.Record:
    key = secret.key
    plan = key.organization.plan
    return keycache.Record(
        key_pk=key.pk,
        organization_pk=key.organization_id,
        test=key.type == ApiKey.Type.TEST,
        limit=key.effective_rate_limit(),
        quota=settings.APIKEYS_TEST_DAILY_QUOTA,
        org_quota=plan.test_daily_quota,
        values=_row(secret),
    )


def _read_model_name(request) -> str:
    """The cached answer the view would take, named from the URL (``read_model``), or ''."""
    context = getattr(request, "parser_context", None) or {}
    name = getattr(context.get("view"), "read_model", None)
    return name(context.get("kwargs") or {}) or "" if name else ""


# This process's last check of each key's last use, so a cached key costs no query a request.
_use_checked: dict[str, float] = {}


def _record_use(key: ApiKey, request, ip: str | None, now) -> None:
    checked = _use_checked.get(key.key_id)
    moment = now.timestamp()
    if checked is not None and moment - checked < settings.APIKEYS_LAST_USED_INTERVAL_SECONDS:
        return
    if len(_use_checked) > 100_000:
        _use_checked.clear()
    _use_checked[key.key_id] = moment
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
        retry_after = ratelimit.failed_auth_retry_after(ip)
        if retry_after is not None:
            raise ApiError(TooManyFailedAttempts(), headers={"Retry-After": str(retry_after)})
        try:
            return self._check(credential, request, ip)
        except ApiError as refused:
            if refused.status_code == 401:
                ratelimit.failed_auth_record(ip)
            raise

    def _check(self, credential: str, request, ip: str | None):
        if not credential:
            raise refuse_key(InvalidApiKey, "The Authorization header has no key after 'Bearer'.")
        if keys.parse(credential) is None:
            raise refuse_key(InvalidApiKey)
        secret_hash = keys.hash_key(credential)
        moment = ratelimit.now()
        window, day = int(moment // 60), int(moment // 86400)
        counting = settings.APIKEYS_RATE_LIMITS_ENABLED
        found = missing = counts = read = None
        if keycache.enabled():
            found = ratelimit.shared_call(
                keycache.fetch,
                secret_hash,
                window=window,
                day=day,
                count=counting,
                read=_read_model_name(request),
            )
            if isinstance(found, keycache.Missing):
                found, missing = None, found
        secret = None
        if found is not None:
            secret = _build(router.db_for_read(KeySecret), found.values)
            counts, read = found.counts, found.read
            if not _pepper_known(secret.pepper_id):  # cached before its pepper was retired
                if counts.minute > 0:
                    ratelimit.refund(secret.key, counts, now=moment)
                secret = counts = read = None
        if secret is None:
            looked_up = _lookup(credential, secret_hash)
            if looked_up is None:
                raise refuse_key(InvalidApiKey)
            secret = looked_up[1]
        key = secret.key
        now = timezone.now()
        try:
            self._refuse_unusable(key, secret, now)
        except ApiError:
            if counts is not None and counts.minute > 0:
                ratelimit.refund(key, counts, now=moment)
            raise
        if missing is not None:
            counts = ratelimit.shared_call(
                keycache.store,
                secret_hash,
                _record(secret),
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
            raise refuse_key(InvalidApiKey, "This secret was replaced when the key was rotated.")
        if key.status == ApiKey.Status.REVOKED or key.deleted_at is not None:
            raise refuse_key(ApiKeyRevoked)
        if key.status == ApiKey.Status.INACTIVE:
            raise refuse_key(ApiKeyInactive)
        if key.is_expired(now):
            raise refuse_key(ApiKeyExpired)
        if key.environment != settings.PERCEPTIS_ENVIRONMENT:
            raise refuse_key(
                EnvironmentMismatch,
                f"This is a {key.environment} key; this API serves "
                f"{settings.PERCEPTIS_ENVIRONMENT}.",
            )

    def authenticate_header(self, request):
        return WWW_AUTHENTICATE
