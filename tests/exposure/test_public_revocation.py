"""``POST /api/v1/keys/revoke-exposed``: anyone holding a key revokes it; the answer tells
nothing about the keys."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import AuditEvent
from apikeys.keys import keyformat
from apikeys.keys.models import ApiKey
from tests.exposure.helpers import run_queued
from tests.helpers import key_state

pytestmark = pytest.mark.django_db

PATH = "/api/v1/keys/revoke-exposed"


def _post(api, keys, **extra):
    return api.post(PATH, {"keys": keys}, format="json", **extra)


def _shape(response):
    headers = {k: v for k, v in response.headers.items() if k.lower() != "x-request-id"}
    return response.status_code, response.content, headers


def test_a_posted_key_is_revoked_as_exposed(api, org, make_key, client_for):
    key, plaintext = make_key(org)
    response = _post(api, [plaintext])
    assert response.status_code == 202
    assert response.json() == {"received": 1}
    assert run_queued() == 1
    key.refresh_from_db()
    assert key.status == ApiKey.Status.REVOKED
    assert key.revoked_reason == "exposed"
    assert key.exposure_source == "public_revocation"
    assert AuditEvent.objects.filter(action="api_key.exposed", target_id=key.key_id).count() == 1
    refused = client_for(plaintext).get("/api/v1/models")
    assert refused.json()["error"]["code"] == "api_key_revoked"


def test_the_answer_is_identical_for_known_and_unknown_keys(api, org, make_key, settings):
    settings.APIKEYS_REVOKE_EXPOSED_PER_MINUTE = 0
    _, known = make_key(org)
    unknown = keyformat.generate("live")
    malformed = "sk-live-per-" + "A" * 49
    answers = [_shape(_post(api, [k])) for k in (known, unknown, malformed)]
    assert answers[0] == answers[1] == answers[2]
    assert answers[0][0] == 202


def test_the_request_does_the_same_work_for_known_and_unknown_keys(api, org, make_key, settings):
    # No timing assertion: the request runs the same queries whatever the keys are (it only
    # hashes and queues them), so its time cannot depend on them.
    settings.APIKEYS_REVOKE_EXPOSED_PER_MINUTE = 0
    _, known = make_key(org)
    unknown = keyformat.generate("live")
    queries = []
    for key in (known, unknown):
        with CaptureQueriesContext(connection) as captured:
            _post(api, [key])
        queries.append([q["sql"].split(" ")[0] for q in captured.captured_queries])
    assert queries[0] == queries[1]
    assert not any("apikeys_keysecret" in q for q in queries[0])


def test_a_replay_is_harmless(api, org, make_key):
    key, plaintext = make_key(org)
    _post(api, [plaintext])
    run_queued()
    state = key_state(key), AuditEvent.objects.count()
    again = _post(api, [plaintext, plaintext])
    assert again.status_code == 202
    run_queued()
    assert (key_state(key), AuditEvent.objects.count()) == state


def test_only_the_posted_keys_are_revoked_in_any_organization(api, make_org, make_key):
    first, second = make_org(), make_org()
    posted, plaintext = make_key(second)
    kept, _ = make_key(first)
    _post(api, [plaintext])
    run_queued()
    posted.refresh_from_db()
    kept.refresh_from_db()
    assert posted.status == ApiKey.Status.REVOKED
    assert kept.status == ApiKey.Status.ACTIVE


def test_more_than_a_hundred_keys_are_refused(api):
    response = _post(api, [keyformat.generate("live") for _ in range(101)])
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_request"


@pytest.mark.parametrize(
    "body",
    [{}, {"keys": []}, {"keys": "sk"}, {"keys": [1]}, {"keys": ["x" * 5000]}, {"other": 1}, []],
)
def test_malformed_bodies_are_a_400(api, body):
    response = api.post(PATH, body, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_request"


def test_no_api_key_is_needed_and_a_bad_one_is_ignored(api, org, make_key):
    key, plaintext = make_key(org)
    response = _post(api, [plaintext], HTTP_AUTHORIZATION="Bearer sk-live-per-garbage")
    assert response.status_code == 202
    assert "RateLimit-Limit" not in response


def test_each_address_is_rate_limited(api, settings):
    settings.APIKEYS_REVOKE_EXPOSED_PER_MINUTE = 3
    key = keyformat.generate("live")
    statuses = [_post(api, [key], REMOTE_ADDR="198.51.100.1").status_code for _ in range(4)]
    assert statuses == [202, 202, 202, 429]
    refused = _post(api, [key], REMOTE_ADDR="198.51.100.1")
    assert refused.json()["error"]["code"] == "rate_limited"
    assert int(refused["Retry-After"]) >= 1
    assert _post(api, [key], REMOTE_ADDR="198.51.100.2").status_code == 202


def test_the_plaintext_is_not_queued(api, org, make_key):
    from django_q.models import OrmQ

    _, plaintext = make_key(org)
    _post(api, [plaintext])
    payloads = [row.task for row in OrmQ.objects.all()]
    assert payloads
    assert plaintext not in repr(payloads)
    assert all(plaintext not in row.payload for row in OrmQ.objects.all())


def test_with_the_queue_down_the_key_is_still_revoked(api, org, make_key, monkeypatch):
    import django_q.tasks

    def broken(*args, **kwargs):
        raise ConnectionError("broker down")

    monkeypatch.setattr(django_q.tasks, "async_task", broken)
    key, plaintext = make_key(org)
    assert _post(api, [plaintext]).status_code == 202
    key.refresh_from_db()
    assert key.status == ApiKey.Status.REVOKED
