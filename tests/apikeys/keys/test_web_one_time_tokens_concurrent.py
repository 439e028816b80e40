"""A show-once form sent several times at once makes one key (PostgreSQL, real transactions)."""

import re
import threading
from collections import Counter

import pytest
from django.db import connection

from apikeys.keys.models import ApiKey
from tests.helpers import requires_postgres

pytestmark = [
    requires_postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

THREADS = 4


def test_a_form_sent_several_times_at_once_makes_one_key(org, owner, signed_in):
    clients = [signed_in(owner) for _ in range(THREADS)]
    page = clients[0].get("/settings/developer/keys/new/")
    token = re.search(rb'name="nonce" value="([^"]+)"', page.content).group(1).decode()
    data = {
        "nonce": token,
        "name": "Once",
        "type": "live",
        "environment": "production",
        "permissions": ["jobs:read"],
    }
    barrier = threading.Barrier(THREADS)
    statuses, lock = [], threading.Lock()

    def submit(client):
        try:
            barrier.wait(timeout=10)
            response = client.post("/settings/developer/keys/new/", data)
            with lock:
                statuses.append(response.status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=submit, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    assert Counter(statuses) == {200: 1, 409: THREADS - 1}
    assert ApiKey.objects.filter(organization=org).count() == 1
