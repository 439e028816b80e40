"""Concurrent creations never pass the plan's daily cap (PostgreSQL, real transactions)."""

import threading
from collections import Counter

import pytest
from django.db import connection
from rest_framework.test import APIClient

from accounts.models import Plan
from apikeys.keys.models import ApiKey, Permission
from tests.helpers import bearer, requires_postgres

pytestmark = [
    requires_postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

THREADS = 6
PER_THREAD = 3
CAP = 7


def test_concurrent_creations_stop_at_the_cap(org, make_key, settings):
    settings.APIKEYS_RATE_LIMITS_ENABLED = False
    _, plaintext = make_key(org, permissions=list(Permission.values))  # the first of CAP
    Plan.objects.filter(pk=org.plan_id).update(key_creations_per_day=CAP)
    barrier = threading.Barrier(THREADS)
    outcomes, lock = [], threading.Lock()

    def create_many(n: int):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=bearer(plaintext))
        try:
            barrier.wait(timeout=10)
            for i in range(PER_THREAD):
                response = client.post("/api/v1/keys", {"name": f"{n}-{i}"}, format="json")
                code = response.json().get("error", {}).get("code", "")
                with lock:
                    outcomes.append((response.status_code, code))
        finally:
            connection.close()

    threads = [threading.Thread(target=create_many, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    assert Counter(outcomes) == {
        (201, ""): CAP - 1,
        (429, "key_creation_limit_reached"): THREADS * PER_THREAD - (CAP - 1),
    }
    assert ApiKey.objects.filter(organization=org).count() == CAP
