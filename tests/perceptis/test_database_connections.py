"""A persistent database connection is checked before each request's first query: one the
server closed is replaced, and a sound one costs no round trip to find out."""

import os

import pytest
from django.db import close_old_connections, connection
from django.db.backends.postgresql import base as django_postgresql

from tests.helpers import requires_postgres

pytestmark = [requires_postgres, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.fixture
def round_trips(monkeypatch):
    """Count the checks that ask the server (Django's ``SELECT 1``)."""
    calls = []
    asked = django_postgresql.DatabaseWrapper.is_usable

    def counted(self):
        calls.append(self.alias)
        return asked(self)

    monkeypatch.setattr(django_postgresql.DatabaseWrapper, "is_usable", counted)
    return calls


def _backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def _terminate(pid: int) -> None:
    import psycopg

    settings = connection.settings_dict
    with psycopg.connect(
        host=settings["HOST"] or None,
        port=settings["PORT"] or None,
        user=settings["USER"] or None,
        password=settings["PASSWORD"] or None,
        dbname=settings["NAME"],
        autocommit=True,
    ) as other:
        other.execute("SELECT pg_terminate_backend(%s)", (pid,))


def _wait_for_the_goodbye(pid: int) -> None:
    import select

    select.select([connection.connection.pgconn.socket], [], [], 5)


def test_the_engine_is_the_platforms():
    assert connection.settings_dict["ENGINE"] == "perceptis.postgresql"
    assert connection.settings_dict["CONN_HEALTH_CHECKS"] is True


def test_a_sound_idle_connection_passes_without_asking_the_server(round_trips):
    _backend_pid()  # connected, idle
    assert connection.is_usable()
    assert round_trips == []


def test_a_socket_numbered_past_1024_is_checked_without_a_round_trip_too(round_trips):
    connection.close()
    held = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]  # a busy process's files
    try:
        _backend_pid()  # a new connection, its socket numbered after them
        assert connection.connection.pgconn.socket > 1024
        assert connection.is_usable()
        assert round_trips == []
    finally:
        connection.close()
        for fd in held:
            os.close(fd)


def test_a_connection_the_server_closed_is_found_and_replaced(round_trips, client):
    pid = _backend_pid()
    _terminate(pid)
    _wait_for_the_goodbye(pid)

    assert not connection.is_usable()
    assert round_trips == ["default"]  # something waited on the socket: the server decided

    close_old_connections()  # a request starts: the next query checks the connection first
    assert _backend_pid() != pid


def test_a_request_after_the_server_closed_its_connection_is_served(org, make_key, client_for):
    _, plaintext = make_key(org)
    api = client_for(plaintext)
    assert _generate(api).status_code == 202  # the connection is kept (CONN_MAX_AGE)
    pid = _backend_pid()
    _terminate(pid)
    _wait_for_the_goodbye(pid)
    close_old_connections()  # as the WSGI handler does when a request starts (not the client)

    response = _generate(api)

    assert response.status_code == 202
    assert _backend_pid() != pid


def _generate(api):
    return api.post("/api/v1/generate", {"prompt": "A lighthouse"}, format="json")
