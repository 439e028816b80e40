"""The tables every submission writes carry no index that another of theirs already serves: each
index costs every insert (and its WAL) and gives nothing back."""

import pytest
from django.db import connection

from billing.models import LedgerEntry
from jobs.models import Job
from tests.helpers import requires_postgres

pytestmark = [pytest.mark.django_db, requires_postgres]


def _indexes(table: str) -> dict[str, dict]:
    """The table's indexes: columns, unique, and partial (a WHERE clause: serves only some rows)."""
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, table)
        cursor.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s", [table])
        partial = {name for name, definition in cursor.fetchall() if " WHERE " in definition}
    return {
        name: {**info, "partial": name in partial}
        for name, info in constraints.items()
        if info["index"]
    }


@pytest.mark.parametrize("model", [Job, LedgerEntry], ids=["job", "ledger entry"])
def test_no_index_is_served_by_another(model):
    indexes = _indexes(model._meta.db_table)
    served = sorted(
        (name, other)
        for name, info in indexes.items()
        for other, wider in indexes.items()
        if other != name
        and not info["unique"]
        and not wider["partial"]
        and wider["columns"][: len(info["columns"])] == info["columns"]
    )
    assert served == []


def test_no_pattern_matching_index_on_public_ids():
    """Job ids and project ids are looked up whole, never by prefix."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename IN (%s, %s) "
            "AND indexdef LIKE '%%pattern_ops%%'",
            [Job._meta.db_table, LedgerEntry._meta.db_table],
        )
        assert cursor.fetchall() == []
