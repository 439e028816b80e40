"""GitHub's secret-scanning reports: signed reports revoke our keys at once, anything else
writes nothing."""

import json

import pytest
from django.core import mail

from accounts.models import AuditEvent
from apikeys.keys import keyformat
from apikeys.keys.models import ApiKey
from apikeys.keys.services import apikey_revoke
from tests.exposure.helpers import Signer, found, key_document
from tests.helpers import SYSTEM, key_state

pytestmark = pytest.mark.django_db

URL = "https://github.com/acme/app/blob/abc/config.py"


def _state(*keys):
    return [key_state(k) for k in keys], AuditEvent.objects.count()


def test_a_signed_report_revokes_a_real_key_at_once(keys_file, signer, report, org, make_key):
    key, plaintext = make_key(org)
    response = report([found(plaintext, URL)], signer=signer)
    assert response.status_code == 200
    assert response.json() == [
        {"token_raw": plaintext, "token_type": "perceptis_api_key", "label": "true_positive"}
    ]
    key.refresh_from_db()
    assert key.status == ApiKey.Status.REVOKED
    assert key.revoked_reason == "exposed"
    assert key.exposure_source == "github_secret_scanning"
    assert key.exposure_url == URL
    event = AuditEvent.objects.get(action="api_key.exposed", target_id=key.key_id)
    assert event.metadata["url"] == URL
    assert event.metadata["reason"] == "exposed"
    assert event.actor_label == "GitHub secret scanning"


def test_the_revoked_key_is_refused_saying_it_was_exposed(
    keys_file, signer, report, org, make_key, client_for
):
    _, plaintext = make_key(org)
    assert client_for(plaintext).get("/api/v1/models").status_code == 200
    report([found(plaintext)], signer=signer)
    response = client_for(plaintext).get("/api/v1/models")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "api_key_revoked"
    assert "reported exposed" in response.json()["error"]["message"]


def test_unknown_tokens_are_false_positives_and_change_nothing(
    keys_file, signer, report, org, make_key
):
    key, _ = make_key(org)
    before = _state(key)
    unknown = keyformat.generate("live")  # well-formed, checksum right, never issued
    items = [found(unknown), found("sk-live-per-nonsense"), found("ghp_notours")]
    response = report(items, signer=signer)
    assert response.status_code == 200
    assert [item["label"] for item in response.json()] == ["false_positive"] * 3
    assert [item["token_raw"] for item in response.json()] == [i["token"] for i in items]
    assert _state(key) == before


def test_a_replayed_report_changes_nothing_more(keys_file, signer, report, org, make_key):
    key, plaintext = make_key(org)
    make_user_emails = len(mail.outbox)
    body = json.dumps([found(plaintext)]).encode()
    first = report(None, body=body, signer=signer)
    after_first = _state(key)
    emails = len(mail.outbox)
    again = report(None, body=body, signer=signer)
    assert again.status_code == first.status_code == 200
    assert again.json() == first.json()
    assert again.json()[0]["label"] == "true_positive"
    assert _state(key) == after_first
    assert len(mail.outbox) == emails >= make_user_emails


def test_a_key_revoked_before_is_a_true_positive_and_keeps_its_reason(
    keys_file, signer, report, org, make_key
):
    key, plaintext = make_key(org)
    apikey_revoke(key=key, actor=SYSTEM)
    before = _state(key)
    response = report([found(plaintext)], signer=signer)
    assert response.json()[0]["label"] == "true_positive"
    assert _state(key) == before
    key.refresh_from_db()
    assert key.revoked_reason == "requested"


def test_test_keys_and_other_tenants_keys_are_revoked_in_their_own_organization(
    keys_file, signer, report, make_org, make_key
):
    first, second = make_org(), make_org()
    test_key, test_plain = make_key(first, type="test")
    other, other_plain = make_key(second)
    bystander, _ = make_key(first)
    response = report([found(test_plain), found(other_plain)], signer=signer)
    assert [i["label"] for i in response.json()] == ["true_positive", "true_positive"]
    for key, organization in ((test_key, first), (other, second)):
        key.refresh_from_db()
        assert key.status == ApiKey.Status.REVOKED
        event = AuditEvent.objects.get(action="api_key.exposed", target_id=key.key_id)
        assert event.organization == organization
    bystander.refresh_from_db()
    assert bystander.status == ApiKey.Status.ACTIVE


# --- What an attacker would send --------------------------------------------------------------


def test_an_unsigned_report_writes_nothing(keys_file, report, org, make_key):
    key, plaintext = make_key(org)
    before = _state(key)
    response = report([found(plaintext)])
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_signature"
    assert _state(key) == before


def test_a_forged_signature_writes_nothing(keys_file, signer, report, org, make_key):
    key, plaintext = make_key(org)
    before = _state(key)
    forger = Signer(signer.identifier)  # GitHub's identifier, the attacker's own key
    for attempt in (
        {"signer": forger},
        {"identifier": signer.identifier, "signature": "bm90IGEgc2lnbmF0dXJl"},
        {"identifier": signer.identifier, "signature": "%%% not base64 %%%"},
        {"identifier": "unknown-identifier", "signature": signer.sign(b"[]")},
        {"identifier": "x" * 5000, "signature": "y" * 5000},
    ):
        response = report([found(plaintext)], **attempt)
        assert response.status_code == 401, attempt
        assert response.json()["error"]["code"] == "invalid_signature"
    assert _state(key) == before


def test_a_signature_of_another_body_writes_nothing(keys_file, signer, report, org, make_key):
    key, plaintext = make_key(org)
    before = _state(key)
    signed = json.dumps([found(keyformat.generate("live"))]).encode()
    response = report(
        None,
        body=json.dumps([found(plaintext)]).encode(),
        identifier=signer.identifier,
        signature=signer.sign(signed),
    )
    assert response.status_code == 401
    assert _state(key) == before


def test_a_body_over_a_megabyte_is_refused_before_it_is_read(
    keys_file, signer, report, org, make_key
):
    key, plaintext = make_key(org)
    before = _state(key)
    padding = "x" * (1024 * 1024)
    body = json.dumps([{**found(plaintext), "source": padding}]).encode()
    response = report(None, body=body, signer=signer)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"
    assert _state(key) == before


def test_more_than_a_thousand_tokens_are_refused(keys_file, signer, report, org, make_key):
    key, plaintext = make_key(org)
    before = _state(key)
    items = [{"token": plaintext}] * 1001
    response = report(items, signer=signer)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"
    assert _state(key) == before


def test_a_million_tokens_are_refused(keys_file, signer, report):
    # A million of the shortest tokens fit in under a megabyte only as a lie about the length;
    # either limit refuses them, and nothing is parsed.
    body = b"[" + b",".join([b'{"token":""}'] * 1_000_000) + b"]"
    response = report(None, body=body, signer=signer)
    assert response.status_code == 413


@pytest.mark.parametrize(
    "body",
    [
        b"{}",
        b'"text"',
        b"[1, 2]",
        b'[{"token": 5}]',
        b"[{}]",
        b"not json",
        b'[{"token": "a\\u0000"}]',
    ],
)
def test_a_signed_but_malformed_report_is_a_400(keys_file, signer, report, body):
    response = report(None, body=body, signer=signer)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_request"


def test_a_test_key_reported_is_revoked_and_never_reaches_live_keys(
    keys_file, signer, report, org, make_key
):
    live, _ = make_key(org)
    test_key, test_plain = make_key(org, type="test")
    report([found(test_plain)], signer=signer)
    test_key.refresh_from_db()
    live.refresh_from_db()
    assert test_key.status == ApiKey.Status.REVOKED
    assert live.status == ApiKey.Status.ACTIVE


# --- GitHub's keys: fetched, cached, refreshed ------------------------------------------------


def test_keys_are_fetched_from_the_url_and_cached(key_server, signer, report, org, make_key):
    _, first = make_key(org)
    _, second = make_key(org)
    assert report([found(first)], signer=signer).status_code == 200
    assert report([found(second)], signer=signer).status_code == 200
    assert key_server.fetches == 1


def test_an_unknown_identifier_refetches_the_keys_once(
    key_server, signer, report, org, make_key, settings
):
    settings.SECRET_SCANNING_GITHUB_KEYS_REFRESH_SECONDS = 0  # no wait between refreshes
    _, plaintext = make_key(org)
    assert report([found(keyformat.generate("live"))], signer=signer).status_code == 200
    rotated = Signer("a-new-github-key")
    key_server.document = key_document(signer, rotated)
    assert report([found(plaintext)], signer=rotated).status_code == 200
    assert key_server.fetches == 2


def test_forged_identifiers_do_not_make_every_request_fetch(key_server, signer, report):
    assert report([], signer=signer).status_code == 200
    for n in range(5):
        response = report([], identifier=f"forged-{n}", signature=signer.sign(b"[]"))
        assert response.status_code == 401
    # One fetch a refresh interval, whatever identifiers are sent.
    assert key_server.fetches == 1


def test_keys_unavailable_is_a_503_and_writes_nothing(key_server, signer, report, org, make_key):
    key, plaintext = make_key(org)
    before = _state(key)
    key_server.status = 500
    response = report([found(plaintext)], signer=signer)
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "service_unavailable"
    assert "Retry-After" in response
    assert _state(key) == before


# --- The cache away ---------------------------------------------------------------------------


class _BrokenCache:
    def __getattr__(self, name):
        def fail(*args, **kwargs):
            raise ConnectionError("cache down")

        return fail


def test_reports_are_verified_with_the_cache_down(
    key_server, signer, report, org, make_key, monkeypatch
):
    from exposure import github

    monkeypatch.setattr(github, "cache", _BrokenCache())
    key, plaintext = make_key(org)
    _, second = make_key(org)
    assert report([found(plaintext)], signer=signer).status_code == 200
    assert report([found(second)], signer=signer).status_code == 200
    assert key_server.fetches == 1  # the process's own copy served the second report
    forged = report([found(second)], identifier="forged", signature=signer.sign(b"[]"))
    assert forged.status_code == 401
    key.refresh_from_db()
    assert key.status == ApiKey.Status.REVOKED


def test_public_revocation_is_limited_with_redis_down(api, settings, monkeypatch):
    from apikeys.keys import ratelimit

    monkeypatch.setattr(ratelimit, "shared_call", lambda *args, **kwargs: None)
    settings.APIKEYS_REVOKE_EXPOSED_PER_MINUTE = 4
    settings.APIKEYS_WEB_PROCESSES = 2  # each process allows its share: 2 a minute
    key = keyformat.generate("live")
    statuses = [
        api.post(
            "/api/v1/keys/revoke-exposed", {"keys": [key]}, format="json", REMOTE_ADDR="192.0.2.9"
        ).status_code
        for _ in range(3)
    ]
    assert statuses == [202, 202, 429]


def test_a_disabled_key_is_revoked_too(keys_file, signer, report, org, make_key):
    from apikeys.keys.services import apikey_disable

    key, plaintext = make_key(org)
    apikey_disable(key=key, actor=SYSTEM)
    report([found(plaintext)], signer=signer)
    key.refresh_from_db()
    assert key.status == ApiKey.Status.REVOKED  # it could otherwise be enabled again


def test_a_secret_rotated_out_is_ours_but_leaves_the_key_working(
    keys_file, signer, report, org, make_key, client_for
):
    from apikeys.keys.services import apikey_rotate

    key, old = make_key(org)
    _, new = apikey_rotate(key=key, actor=SYSTEM)
    response = report([found(old)], signer=signer)
    assert response.json()[0]["label"] == "true_positive"
    key.refresh_from_db()
    assert key.status == ApiKey.Status.ACTIVE
    assert client_for(new).get("/api/v1/models").status_code == 200


def test_a_secret_still_in_its_grace_period_revokes_the_key(
    keys_file, signer, report, org, make_key
):
    from apikeys.keys.services import apikey_rotate

    key, old = make_key(org)
    apikey_rotate(key=key, actor=SYSTEM, grace_period_seconds=3600)
    report([found(old)], signer=signer)
    key.refresh_from_db()
    assert key.status == ApiKey.Status.REVOKED
