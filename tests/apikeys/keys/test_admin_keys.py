"""Support works on API keys in admin: list, filter, disable, enable, revoke, find by plaintext."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import AuditEvent
from apikeys.keys import keyformat
from apikeys.keys.models import ApiKey, KeySecret

KEYS = "/admin/apikeys/apikey/"
FIND = "/admin/apikeys/apikey/find/"


def _audit(action, key):
    return AuditEvent.objects.filter(action=action, target_id=key.key_id)


def test_key_list_shows_key_id_hint_organization_and_status(support, live_key):
    key, _ = live_key
    response = support.get(KEYS)
    assert response.status_code == 200
    html = response.content.decode()
    for text in (key.key_id, key.hint, key.name, key.organization.name, "Active", "Find key"):
        assert text in html


def test_support_disables_and_enables_a_key_and_each_change_is_audited(
    support, support_user, live_key, run_action
):
    key, _ = live_key
    response = run_action(support, KEYS, "disable_keys", [key])
    assert response.status_code == 302
    key.refresh_from_db()
    assert key.status == ApiKey.Status.INACTIVE
    event = _audit("api_key.disabled", key).get()
    assert event.actor_user == support_user
    assert event.ip_address == "203.0.113.7"

    run_action(support, KEYS, "enable_keys", [key])
    key.refresh_from_db()
    assert key.status == ApiKey.Status.ACTIVE
    assert _audit("api_key.enabled", key).get().actor_user == support_user


def test_revoke_asks_for_confirmation_before_revoking(support, live_key, run_action):
    key, _ = live_key
    response = run_action(support, KEYS, "revoke_keys", [key])
    assert response.status_code == 200
    assert b"Revoking is permanent" in response.content
    assert key.key_id.encode() in response.content
    key.refresh_from_db()
    assert key.status == ApiKey.Status.ACTIVE
    assert not _audit("api_key.revoked", key).exists()


def test_confirmed_revoke_revokes_the_key_with_the_staff_user_as_actor(
    support, support_user, live_key, run_action, client_for
):
    key, plaintext = live_key
    response = run_action(support, KEYS, "revoke_keys", [key], post="yes")
    assert response.status_code == 302
    key.refresh_from_db()
    assert key.status == ApiKey.Status.REVOKED
    assert _audit("api_key.revoked", key).get().actor_user == support_user
    # The key's next request is refused.
    api_response = client_for(plaintext).get("/api/v1/status/job_unknown")
    assert api_response.status_code == 401
    assert api_response.json()["error"]["code"] == "api_key_revoked"


def test_enabling_a_revoked_key_is_refused_with_a_warning(support, live_key, run_action):
    key, _ = live_key
    run_action(support, KEYS, "revoke_keys", [key], post="yes")
    run_action(support, KEYS, "enable_keys", [key])
    page = support.get(KEYS).content.decode()
    key.refresh_from_db()
    assert key.status == ApiKey.Status.REVOKED
    assert not _audit("api_key.enabled", key).exists()
    assert f"Not changed: {key.key_id}. A revoked key cannot be enabled" in page


def test_staff_without_the_group_cannot_run_key_actions(bare, live_key, run_action):
    key, _ = live_key
    response = run_action(bare, KEYS, "revoke_keys", [key], post="yes")
    assert response.status_code == 403
    key.refresh_from_db()
    assert key.status == ApiKey.Status.ACTIVE


def test_key_detail_page_is_read_only_and_has_no_add_form(support, root, live_key):
    key, _ = live_key
    for client in (support, root):
        detail = client.get(f"{KEYS}{key.pk}/change/")
        assert detail.status_code == 200
        assert b'name="_save"' not in detail.content
        assert client.get(f"{KEYS}add/").status_code == 403
        edit = client.post(f"{KEYS}{key.pk}/change/", {"name": "renamed"})
        assert edit.status_code == 403
        assert client.post(f"{KEYS}{key.pk}/delete/", {"post": "yes"}).status_code == 403
    key.refresh_from_db()
    assert key.name != "renamed"


@pytest.mark.parametrize(
    "query, expected",
    [
        ("status=active", "active"),
        ("status=inactive", "inactive"),
        ("status=expired", "expired"),
        ("status=revoked", "revoked"),
        ("type__exact=test", "test"),
        ("environment__exact=staging", "staging"),
    ],
)
def test_key_filters_select_the_matching_keys(support, org, make_key, query, expected):
    keys_by_name = {
        "active": make_key(org, name="k-active")[0],
        "inactive": make_key(org, name="k-inactive")[0],
        "expired": make_key(org, name="k-expired")[0],
        "revoked": make_key(org, name="k-revoked")[0],
        "test": make_key(org, name="k-test", type="test")[0],
        "staging": make_key(org, name="k-staging", environment="staging")[0],
    }
    ApiKey.objects.filter(pk=keys_by_name["inactive"].pk).update(status="inactive")
    ApiKey.objects.filter(pk=keys_by_name["revoked"].pk).update(status="revoked")
    ApiKey.objects.filter(pk=keys_by_name["expired"].pk).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )
    response = support.get(f"{KEYS}?{query}")
    assert response.status_code == 200
    shown = {k.name for k in response.context["cl"].result_list}
    assert f"k-{expected}" in shown
    if expected in ("inactive", "expired", "revoked"):
        assert shown == {f"k-{expected}"}


def test_key_list_filters_by_plan(support, make_org, make_key):
    business_key, _ = make_key(make_org(plan="business"), name="on-business")
    enterprise_key, _ = make_key(make_org(plan="enterprise"), name="on-enterprise")
    plan_id = enterprise_key.organization.plan_id
    response = support.get(f"{KEYS}?organization__plan__id__exact={plan_id}")
    shown = {k.name for k in response.context["cl"].result_list}
    assert shown == {"on-enterprise"}


def test_key_search_finds_by_key_id_name_and_organization(support, make_org, make_key):
    key, _ = make_key(make_org(name="Acme Rockets"), name="deploy bot")
    other, _ = make_key(make_org(name="Globex"), name="other")
    for q in (key.key_id, "deploy", "Acme", key.organization.slug):
        shown = list(support.get(KEYS, {"q": q}).context["cl"].result_list)
        assert shown == [key], q


def test_lookups_and_searches_by_secret_hash_are_refused(support, root, live_key):
    key, _ = live_key
    secret_hash = KeySecret.objects.get(key=key).secret_hash
    for client in (support, root):
        for lookup in ("secrets__secret_hash", "secrets__secret_hash__startswith"):
            response = client.get(KEYS, {lookup: secret_hash})
            assert response.status_code == 400, lookup
        # Searching for a hash matches nothing: no search field reaches the secrets.
        found = client.get(KEYS, {"q": secret_hash}).context["cl"].result_list
        assert list(found) == []
        assert client.get("/admin/apikeys/keysecret/").status_code == 404


def test_find_key_names_the_key_organization_and_status(support, support_user, live_key):
    key, plaintext = live_key
    assert support.get(FIND).status_code == 200
    response = support.post(FIND, {"key": plaintext})
    assert response.status_code == 200
    html = response.content.decode()
    assert key.key_id in html
    assert key.organization.name in html
    assert "Active" in html
    assert plaintext not in html
    assert "no-store" in response["Cache-Control"]
    event = _audit("api_key.identified", key).get()
    assert event.actor_user == support_user


def test_find_key_reports_a_revoked_key_as_revoked(support, live_key, run_action):
    key, plaintext = live_key
    run_action(support, KEYS, "revoke_keys", [key], post="yes")
    result = support.post(FIND, {"key": plaintext}).context["result"]
    assert result["key_id"] == key.key_id
    assert result["status"] == "Revoked"


def test_find_key_tells_a_rotated_out_secret_from_the_current_one(support, live_key):
    from accounts.audit import Actor
    from apikeys.keys.services import apikey_rotate

    key, old = live_key
    key, new = apikey_rotate(key=key, actor=Actor.system("tests"))
    assert support.post(FIND, {"key": old}).context["result"]["secret_current"] is False
    assert support.post(FIND, {"key": new}).context["result"]["secret_current"] is True


def test_find_key_tells_malformed_from_unknown(support, db):
    malformed = support.post(FIND, {"key": "sk-live-per-nonsense"})
    assert malformed.context["result"] == {"found": False, "malformed": True}
    unknown_key = keyformat.generate("live")
    unknown = support.post(FIND, {"key": unknown_key})
    assert unknown.context["result"] == {"found": False, "malformed": False}
    assert unknown_key.encode() not in unknown.content


def test_find_key_without_a_key_says_so_and_echoes_nothing(support, db):
    too_long = "sk-live-per-" + "x" * 300
    response = support.post(FIND, {"key": too_long})
    assert response.status_code == 200
    assert response.context["result"] is None
    assert response.context["form"].errors["key"]
    assert too_long.encode() not in response.content
    assert support.post(FIND, {"key": ""}).context["form"].errors["key"]


def test_find_key_needs_key_view_permission(bare, live_key):
    _, plaintext = live_key
    assert bare.get(FIND).status_code == 403
    assert bare.post(FIND, {"key": plaintext}).status_code == 403


@pytest.mark.parametrize(
    "failing", ["apikeys.keys.admin.lookup_key", "apikeys.keys.admin.audit_record"]
)
def test_find_key_error_report_hides_the_key(support, live_key, monkeypatch, failing):
    """The report Django mails to ADMINS on a 500 (locals and POST data) omits the pasted key."""
    import logging

    from django.views.debug import ExceptionReporter

    _, plaintext = live_key
    records = []

    class Capture(logging.Handler):
        def emit(self, record):
            records.append(record)

    def boom(*args, **kwargs):
        raise RuntimeError("store down")

    monkeypatch.setattr(failing, boom)
    handler = Capture(level=logging.ERROR)
    logging.getLogger("django.request").addHandler(handler)
    try:
        support.raise_request_exception = False
        response = support.post(FIND, {"key": plaintext})
    finally:
        logging.getLogger("django.request").removeHandler(handler)
    assert response.status_code == 500
    record = records[-1]
    # What AdminEmailHandler builds: the full technical report, text and HTML.
    reporter = ExceptionReporter(record.request, *record.exc_info, is_email=True)
    report = reporter.get_traceback_text() + reporter.get_traceback_html()
    assert "store down" in report
    assert plaintext not in report
    assert plaintext[12:-4] not in report
