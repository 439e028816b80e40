"""Django's PostgreSQL backend with a health check that costs no round trip.

``CONN_HEALTH_CHECKS`` makes Django test a persistent connection before a request's first
query, with ``SELECT 1``: a round trip to the server, on every request that touches the
database (on a submission, the one statement's round trip again). A connection the server has
closed (a restart, ``pg_terminate_backend``, an idle timeout, a pooler dropping it) has
something waiting on its socket while idle: the server's last message, or the end of the
stream. So the socket is looked at first, without waiting; only when something is there does
``SELECT 1`` decide, as Django's check would. A connection whose peer vanished without a word
(a cable cut) passes both checks alike and fails at its first query.
"""

import select

import psycopg
from django.db.backends.postgresql import base
from psycopg import pq


class DatabaseWrapper(base.DatabaseWrapper):
    def is_usable(self):
        connection = self.connection
        if connection is None or connection.closed or connection.broken:
            return False
        if connection.pgconn.transaction_status != pq.TransactionStatus.IDLE:
            return super().is_usable()
        try:
            # poll, not select: a busy process's socket may be numbered past select's 1024.
            poller = select.poll()
            poller.register(connection.pgconn.socket, select.POLLIN)
            waiting = poller.poll(0)
        except (OSError, psycopg.Error):  # no socket to look at: let the server decide
            return super().is_usable()
        return not waiting or super().is_usable()
