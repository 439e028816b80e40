"""The app under Django's WSGI handler in the test's thread, and the schema it serves."""

import pytest
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from werkzeug.test import Client


@pytest.fixture
def wsgi_app(db):
    """Django's WSGI application, serving requests inside the test's transaction.

    The handler closes the thread's connection after each request, which would end the test's
    transaction; Django's test client turns that off the same way.
    """
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield get_wsgi_application()
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


@pytest.fixture
def openapi(wsgi_app) -> dict:
    """The OpenAPI schema the server serves, as a dict.

    Fetched through ``wsgi_app``: Django's test client would reconnect the signal it turns off.
    """
    response = Client(wsgi_app).get("/api/v1/schema/", headers={"Accept": "application/json"})
    assert response.status_code == 200
    return response.json
