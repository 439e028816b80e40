"""Database helpers every app uses."""

import hashlib
import weakref

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet


def delete_in_batches(queryset: QuerySet, *, batch_size: int | None = None) -> int:
    """Delete the rows of ``queryset`` in primary-key batches, one transaction each.

    Return how many rows were deleted. Related rows follow each model's ``on_delete``.
    """
    batch_size = batch_size or settings.APIKEYS_PURGE_BATCH_SIZE
    model = queryset.model
    deleted = 0
    last_pk = None
    while True:
        page = queryset.order_by("pk")
        if last_pk is not None:
            page = page.filter(pk__gt=last_pk)
        pks = list(page.values_list("pk", flat=True)[:batch_size])
        if not pks:
            return deleted
        with transaction.atomic():
            _, by_model = model.objects.filter(pk__in=pks).delete()
        deleted += by_model.get(model._meta.label, 0)
        last_pk = pks[-1]
        if len(pks) < batch_size:
            return deleted


class PreparedStatement:
    """A statement PostgreSQL plans once per database session and then executes by name.

    For the hot paths' statements, whose planning costs more than running them. ``sql`` names
    its values ``%(name)s``; ``params`` lists each name with its SQL type, in order. The
    statement is prepared (``PREPARE``) on a session's first use, found again if the session
    already has it (a pooler in session mode), and run as ``EXECUTE name(...)``; the values are
    sent as the driver sends any query's. Elsewhere than PostgreSQL, and with
    ``DATABASE_PREPARED_STATEMENTS`` off (behind a pooler in transaction mode, where a session's
    statements do not follow its client), ``sql`` runs as it is.
    """

    def __init__(self, name: str, sql: str, params: list[tuple[str, str]]):
        self.sql = sql
        positional = sql.replace("%%", "%")
        for position, (param, _) in enumerate(params, start=1):
            placeholder = f"%({param})s"
            if placeholder not in positional:
                raise ValueError(f"{name}: no {placeholder} in the statement")
            positional = positional.replace(placeholder, f"${position}")
        types = ", ".join(sql_type for _, sql_type in params)
        body = f"({types}) AS {positional}"
        # Named after its text too: a session kept across a deploy (a pooler in session mode)
        # may hold the previous version's statement under the same name.
        self.name = f"{name}_{hashlib.sha256(body.encode()).hexdigest()[:12]}"
        self.prepare_sql = f"PREPARE {self.name}{body}"
        self.execute_sql = f"EXECUTE {self.name}({', '.join(f'%({p})s' for p, _ in params)})"
        self._prepared_on = weakref.WeakSet()  # the driver's connections that have it

    def execute(self, connection, cursor, values: dict) -> None:
        """Run the statement with ``values`` on ``cursor`` (a cursor of ``connection``)."""
        if connection.vendor != "postgresql" or not settings.DATABASE_PREPARED_STATEMENTS:
            cursor.execute(self.sql, values)
            return
        # Tracked per driver connection: Django reconnects under the same wrapper object.
        raw = connection.connection
        if raw not in self._prepared_on:
            cursor.execute("SELECT 1 FROM pg_prepared_statements WHERE name = %s", (self.name,))
            if cursor.fetchone() is None:
                cursor.execute(self.prepare_sql)
            self._prepared_on.add(raw)
        cursor.execute(self.execute_sql, values)
