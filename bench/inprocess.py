"""What the in-process benchmarks share: Django set up on the benchmark settings, a throwaway
database around a run, and requests sent through Django's WSGI handler as a server sends them.
"""

import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

# A WSGI environ as a server builds it; each benchmark adds the method, path, query and headers.
BASE_ENVIRON = {
    "REQUEST_METHOD": "GET",
    "QUERY_STRING": "",
    "SCRIPT_NAME": "",
    "SERVER_NAME": "testserver",
    "SERVER_PORT": "80",
    "SERVER_PROTOCOL": "HTTP/1.1",
    "REMOTE_ADDR": "127.0.0.1",
    "HTTP_HOST": "testserver",
    "HTTP_USER_AGENT": "perceptis-bench/1",
    "HTTP_ACCEPT": "application/json",
    "wsgi.version": (1, 0),
    "wsgi.url_scheme": "http",
    "wsgi.errors": sys.stderr,
    "wsgi.multithread": False,
    "wsgi.multiprocess": True,
    "wsgi.run_once": False,
}


def environ(path: str, **fields) -> dict:
    """Return a request's environ: ``BASE_ENVIRON`` with ``PATH_INFO`` and ``fields``."""
    return {**BASE_ENVIRON, "PATH_INFO": path, **fields}


def send(app, environ: dict) -> tuple[str, dict, bytes]:
    """Send one request to the WSGI ``app``; return the status line, the headers and the body.
    Closing the response fires ``request_finished``, as a WSGI server does."""
    started = {}

    def start_response(status, headers, exc_info=None):
        started["status"], started["headers"] = status, dict(headers)

    result = app(environ, start_response)
    try:
        body = b"".join(result)
    finally:
        result.close()
    return started["status"], started["headers"], body


@contextmanager
def throwaway_database() -> Iterator[None]:
    """Set Django up and run the body on a throwaway copy of the configured database, dropped
    afterwards (after the usage buffered in this process is written into it, not into the
    real one at exit)."""
    import django

    # Whitenoise warns about a missing STATIC_ROOT; the benchmarks serve no static files.
    warnings.filterwarnings("ignore", message="No directory at", category=UserWarning)
    django.setup()
    from django.db import connections
    from django.test.utils import setup_databases, teardown_databases

    databases = setup_databases(verbosity=0, interactive=False, serialized_aliases=set())
    try:
        yield
    finally:
        from apikeys.usage import metering

        metering.flush()
        connections.close_all()
        teardown_databases(databases, verbosity=0)
