"""The key lookup: the secret, its key, organization and plan in one indexed query.

A malformed key never gets here (``format.parse`` refuses it first).
"""

import hashlib

from django.conf import settings
from django.db import connections, router

from accounts.models import Organization, Plan
from apikeys.keys import keycache, keyformat, redis_contract
from apikeys.keys.models import ApiKey, KeySecret
from apikeys.keys.process_state import state
from perceptis.db import PreparedStatement

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
            "project",
            "key_id",
            "name",
            "type",
            "environment",
            "permissions",
            "rate_limit_per_minute",
            "expires_at",
            "ip_allowlist",
            "allowed_models",
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


def _record_format() -> str:
    # The record's shape: its columns in order, and the script that stores them. A deploy that
    # changes either reads and writes records under another key (the scripts that store them:
    # ``STORE`` on one Redis, ``RECORD_PUT`` on a cluster), so old and new processes
    # never decode each other's records with shifted fields.
    shape = repr([(model._meta.label, attnames) for model, attnames, _, _ in _PARTS])
    shape += redis_contract.STORE_LUA + redis_contract.RECORD_PUT_LUA
    return hashlib.sha256(shape.encode()).hexdigest()[:12]


RECORD_FORMAT = _record_format()


def build(alias: str, row) -> KeySecret:
    """The secret, its key, organization and plan from one row of the lookup's columns."""
    secret, key, organization, plan = (
        model.from_db(alias, attnames, row[start:end]) for model, attnames, start, end in _PARTS
    )
    Organization.plan.field.set_cached_value(organization, plan)
    ApiKey.organization.field.set_cached_value(key, organization)
    KeySecret.key.field.set_cached_value(secret, key)
    return secret


def _row(secret: KeySecret) -> tuple:
    """The inverse of ``build``: the lookup's columns of a secret read from the database."""
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
    (``perceptis.db.PreparedStatement``), since planning the join costs ten times running it.
    """

    def __init__(self, connection):
        lookups = [prefix + name for _, prefix, names in _FIELDS for name in names]
        queryset = KeySecret.objects.filter(secret_hash="").order_by().values_list(*lookups)
        self.compiler = queryset.query.get_compiler(connection=connection)
        self.sql, params = self.compiler.as_sql()
        if params != ("",):
            raise AssertionError(f"unexpected key lookup parameters {params!r}")
        self.converters = self.compiler.get_converters([col for col, _, _ in self.compiler.select])
        self.statement = PreparedStatement(
            "perceptis_key_lookup",
            self.sql.replace("%s", "%(secret_hash)s", 1),
            [("secret_hash", "text")],
        )

    def run(self, connection, secret_hash: str) -> KeySecret | None:
        with connection.cursor() as cursor:
            self.statement.execute(connection, cursor, {"secret_hash": secret_hash})
            row = cursor.fetchone()
        if row is None:
            return None
        if self.converters:
            row = next(self.compiler.apply_converters((row,), self.converters))
        return build(connection.alias, row)


def lookup_key(plaintext: str) -> tuple[ApiKey, KeySecret] | None:
    """Return the key and secret for a plaintext key, or None. Malformed keys cost no query."""
    if keyformat.parse(plaintext) is None:
        return None
    return lookup(plaintext, keyformat.hash_key(plaintext))


def lookup(plaintext: str, secret_hash: str) -> tuple[ApiKey, KeySecret] | None:
    connection = connections[router.db_for_read(KeySecret)]
    # Per database connection object (one per thread and alias); dropped with the connection.
    query = state.key_queries.get(connection)
    if query is None:
        query = state.key_queries[connection] = _KeyQuery(connection)
    secret = query.run(connection, secret_hash)
    if secret is None:
        # Keys stored under a retired pepper: one more lookup each, and only for a key the
        # current pepper does not know (unknown keys, or keys made before the new pepper).
        for pepper_id, pepper in settings.API_KEY_RETIRED_PEPPERS.items():
            secret = query.run(connection, keyformat.hash_key(plaintext, pepper))
            if secret is not None and secret.pepper_id == pepper_id:
                break
            secret = None
    if secret is None:
        return None
    return secret.key, secret


def record(secret: KeySecret) -> keycache.Record:
    key = secret.key
    return keycache.Record(
        key_pk=key.pk,
        organization_pk=key.organization_id,
        test=key.type == ApiKey.Type.TEST,
        limit=key.effective_rate_limit(),
        quota=settings.APIKEYS_TEST_DAILY_QUOTA,
        values=_row(secret),
        format=RECORD_FORMAT,
    )
