"""Statements prepared once per database session (``perceptis.db.PreparedStatement``)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from perceptis.db import PreparedStatement
from tests.helpers import requires_postgres


def run(statement: PreparedStatement, **values):
    with connection.cursor() as cursor:
        statement.execute(connection, cursor, values)
        return cursor.fetchone()


def test_a_statement_runs_with_named_values_on_any_database(db):
    statement = PreparedStatement(
        "perceptis_test_sum", "SELECT %(a)s + %(b)s, %(a)s", [("a", "integer"), ("b", "integer")]
    )
    assert run(statement, a=2, b=3) == (5, 2)
    assert run(statement, a=10, b=-1) == (9, 10)


def test_every_named_value_must_be_in_the_statement():
    with pytest.raises(ValueError, match="%\\(b\\)s"):
        PreparedStatement(
            "perceptis_test_missing", "SELECT %(a)s", [("a", "integer"), ("b", "text")]
        )


@requires_postgres
def test_on_postgresql_it_is_prepared_once_then_executed_by_name(db):
    statement = PreparedStatement("perceptis_test_once", "SELECT %(a)s * 2", [("a", "integer")])
    with CaptureQueriesContext(connection) as first:
        assert run(statement, a=4) == (8,)
    with CaptureQueriesContext(connection) as second:
        assert run(statement, a=5) == (10,)

    assert any(q["sql"].startswith("PREPARE perceptis_test_once_") for q in first.captured_queries)
    assert [q["sql"] for q in second.captured_queries] == [f"EXECUTE {statement.name}(5)"]


@requires_postgres
def test_another_version_of_a_statement_on_the_same_session_does_not_collide(db):
    """A session kept across a deploy may hold the earlier text under the same name."""
    earlier = PreparedStatement("perceptis_test_version", "SELECT %(a)s + 1", [("a", "integer")])
    later = PreparedStatement("perceptis_test_version", "SELECT %(a)s || 'x'", [("a", "text")])
    assert run(earlier, a=1) == (2,)
    assert run(later, a="y") == ("yx",)
    assert earlier.name != later.name


@requires_postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_new_session_prepares_it_again():
    statement = PreparedStatement("perceptis_test_session", "SELECT %(a)s", [("a", "text")])
    assert run(statement, a="one") == ("one",)
    connection.close()  # Django reconnects under the same wrapper, with a new session

    assert run(statement, a="two") == ("two",)


@requires_postgres
def test_turned_off_the_statement_runs_as_sql(db, settings):
    settings.DATABASE_PREPARED_STATEMENTS = False
    statement = PreparedStatement("perceptis_test_off", "SELECT %(a)s + 1", [("a", "integer")])
    with CaptureQueriesContext(connection) as captured:
        assert run(statement, a=1) == (2,)
    assert [q["sql"] for q in captured.captured_queries] == ["SELECT 1 + 1"]
