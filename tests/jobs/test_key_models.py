"""Keys limited to the models they need: generate, the models list, the key API, the key page,
the command line, and the dominance axis through the API."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from accounts.models import AuditEvent
from apikeys.keys.models import ApiKey
from tests.helpers import ALL_PERMISSIONS, assert_exceeds, key_state
from tests.jobs.test_prices import assert_nothing_written, generate, snapshot


def key_spend(key):
    return ApiKey.objects.values_list("spend_day", "spend_month", "spend_total").get(pk=key.pk)


# --- Generate ----------------------------------------------------------------------------------


@pytest.mark.parametrize("key_type", ["live", "test"])
def test_a_model_outside_the_keys_list_is_model_not_available_and_writes_nothing(
    org, make_key, client_for, key_type
):
    key, plaintext = make_key(org, type=key_type, allowed_models=["gpt-4o-mini"])
    before, spend = snapshot(org), key_spend(key)

    response = generate(client_for(plaintext), {"prompt": "p", "options": {"model": "gpt-4o"}})

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "model_not_available"
    assert "gpt-4o-mini" in error["message"]
    assert_nothing_written(org, *before)
    assert key_spend(key) == spend


def test_naming_no_model_when_the_plans_default_is_outside_the_list_is_refused(
    org, make_key, client_for
):
    _key, plaintext = make_key(org, allowed_models=["gpt-4o"])  # the default is gpt-4o-mini
    before = snapshot(org)

    response = generate(client_for(plaintext), {"prompt": "p"})

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "model_not_available"
    assert_nothing_written(org, *before)


def test_a_model_in_the_list_runs(org, make_key, client_for):
    _key, plaintext = make_key(org, allowed_models=["gpt-4o"])

    response = generate(client_for(plaintext), {"prompt": "p", "options": {"model": "gpt-4o"}})

    assert response.status_code == 202, response.json()
    assert response.json()["model"] == "gpt-4o"


def test_a_listed_model_the_plan_may_not_use_is_still_refused(org, make_key, client_for):
    # Business may not use o1: a key's list narrows the plan, never widens it.
    _key, plaintext = make_key(org, allowed_models=["o1", "gpt-4o-mini"])
    before = snapshot(org)

    response = generate(client_for(plaintext), {"prompt": "p", "options": {"model": "o1"}})

    assert response.json()["error"]["code"] == "model_not_available"
    assert_nothing_written(org, *before)


def test_narrowing_a_key_applies_to_its_next_request(org, make_key, client_for):
    key, plaintext = make_key(org)
    client = client_for(plaintext)
    assert generate(client, {"prompt": "p", "options": {"model": "gpt-4o"}}).status_code == 202
    from apikeys.keys.services import apikey_update
    from tests.helpers import SYSTEM

    apikey_update(key=key, actor=SYSTEM, allowed_models=["gpt-4o-mini"])
    before = snapshot(org)

    response = generate(client, {"prompt": "p", "options": {"model": "gpt-4o"}})

    assert response.json()["error"]["code"] == "model_not_available"
    assert_nothing_written(org, *before)


# --- GET /api/v1/models ------------------------------------------------------------------------


def test_models_lists_only_the_keys_allowed_models(org, make_key, client_for):
    _key, plaintext = make_key(org, allowed_models=["gpt-4o"])

    body = client_for(plaintext).get("/api/v1/models").json()

    assert [m["id"] for m in body["results"]] == ["gpt-4o"]


def test_models_lists_every_plan_model_for_a_key_without_a_list(org, make_key, client_for):
    _key, plaintext = make_key(org)

    body = client_for(plaintext).get("/api/v1/models").json()

    assert [m["id"] for m in body["results"]] == ["gpt-4o", "gpt-4o-mini"]


def test_models_never_lists_a_listed_model_the_plan_may_not_use(org, make_key, client_for):
    _key, plaintext = make_key(org, allowed_models=["o1", "gpt-4o"])

    body = client_for(plaintext).get("/api/v1/models").json()

    assert [m["id"] for m in body["results"]] == ["gpt-4o"]


# --- The key API -------------------------------------------------------------------------------


@pytest.fixture
def manager(org, make_key, client_for):
    key, plaintext = make_key(org, permissions=ALL_PERMISSIONS)
    return key, client_for(plaintext)


def test_a_key_is_created_and_changed_with_allowed_models(manager):
    _, client = manager
    created = client.post(
        "/api/v1/keys",
        {"name": "narrow", "allowed_models": ["gpt-4o-mini", "gpt-4o", "gpt-4o"]},
        format="json",
    )
    assert created.status_code == 201, created.json()
    assert created.json()["allowed_models"] == ["gpt-4o", "gpt-4o-mini"]
    key_id = created.json()["id"]

    changed = client.patch(f"/api/v1/keys/{key_id}", {"allowed_models": None}, format="json")

    assert changed.json()["allowed_models"] == []
    assert ApiKey.objects.get(key_id=key_id).allowed_models == []
    event = AuditEvent.objects.get(action="api_key.updated", target_id=key_id)
    assert event.metadata["axes"] == ["allowed_models"]


@pytest.mark.parametrize(
    "value",
    [
        ["no-such-model"],
        ["GPT-4O"],
        "gpt-4o",
        [1],
        [{"model": "gpt-4o"}],
        ["x" * 101],
        ["gpt-4o"] * 101,
        {"gpt-4o": True},
    ],
)
def test_bad_allowed_models_are_invalid_request_and_create_nothing(manager, value):
    _, client = manager
    before = ApiKey.objects.count()

    response = client.post("/api/v1/keys", {"name": "k", "allowed_models": value}, format="json")

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    assert all(field.startswith("allowed_models") for field in error["fields"])
    assert ApiKey.objects.count() == before


def test_bad_allowed_models_in_a_patch_change_nothing(org, make_key, manager):
    _, client = manager
    target, _ = make_key(org, allowed_models=["gpt-4o"])
    before = key_state(target)

    response = client.patch(
        f"/api/v1/keys/{target.key_id}", {"allowed_models": ["nope"]}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_request"
    assert key_state(target) == before


# --- The dominance axis, through the API -------------------------------------------------------


@pytest.fixture
def narrow_manager(org, make_key, client_for):
    key, plaintext = make_key(
        org, permissions=ALL_PERMISSIONS, allowed_models=["gpt-4o-mini"], name="narrow"
    )
    return key, client_for(plaintext)


@pytest.mark.parametrize("body", [{}, {"allowed_models": []}, {"allowed_models": ["gpt-4o"]}])
def test_a_key_limited_to_some_models_cannot_create_a_wider_key(narrow_manager, body):
    key, client = narrow_manager
    before = ApiKey.objects.count()

    response = client.post("/api/v1/keys", {"name": "wider", **body}, format="json")

    assert_exceeds(response, "allowed_models")
    assert ApiKey.objects.count() == before
    event = AuditEvent.objects.get(action="api_key.privileges_exceeded")
    assert event.actor_key_id == key.pk
    assert event.metadata == {"attempted": "create", "fields": ["allowed_models"]}


def test_a_key_limited_to_some_models_cannot_lift_its_own_list(narrow_manager):
    key, client = narrow_manager
    before = key_state(key)

    for value in (None, [], ["gpt-4o", "gpt-4o-mini"]):
        response = client.patch(
            f"/api/v1/keys/{key.key_id}", {"allowed_models": value}, format="json"
        )
        assert_exceeds(response, "allowed_models")
    assert key_state(key) == before


def test_a_key_limited_to_some_models_cannot_widen_or_touch_a_wider_key(
    org, make_key, narrow_manager
):
    _, client = narrow_manager
    wider, _ = make_key(org, permissions=["jobs:read"])  # every model
    inside, _ = make_key(org, permissions=["jobs:read"], allowed_models=["gpt-4o-mini"])
    before = key_state(wider), key_state(inside)

    assert_exceeds(
        client.patch(f"/api/v1/keys/{inside.key_id}", {"allowed_models": None}, format="json"),
        "allowed_models",
    )
    assert_exceeds(
        client.post(f"/api/v1/keys/{wider.key_id}/rotate", {}, format="json"), "allowed_models"
    )
    assert_exceeds(client.post(f"/api/v1/keys/{wider.key_id}/disable"), "allowed_models")
    assert (key_state(wider), key_state(inside)) == before


def test_a_key_limited_to_some_models_creates_keys_inside_its_list(narrow_manager):
    _, client = narrow_manager

    response = client.post(
        "/api/v1/keys", {"name": "inside", "allowed_models": ["gpt-4o-mini"]}, format="json"
    )

    assert response.status_code == 201, response.json()
    assert response.json()["allowed_models"] == ["gpt-4o-mini"]


# --- The key page and the command line ---------------------------------------------------------


def test_the_key_page_sets_and_clears_allowed_models(web, org, make_key):
    from tests.apikeys.keys.test_web_key_edit import EDIT, form

    key, _ = make_key(org)
    page = web.get(EDIT.format(key.key_id))
    assert b'name="allowed_models"' in page.content

    response = web.post(EDIT.format(key.key_id), form(key, allowed_models=["gpt-4o"]))

    assert response.status_code == 302
    key.refresh_from_db()
    assert key.allowed_models == ["gpt-4o"]
    detail = web.get(f"/settings/developer/keys/{key.key_id}/")
    assert b"<code>gpt-4o</code>" in detail.content

    web.post(EDIT.format(key.key_id), form(key))
    key.refresh_from_db()
    assert key.allowed_models == []


def test_the_key_page_refuses_a_model_not_in_the_price_table(web, org, make_key):
    from tests.apikeys.keys.test_web_key_edit import EDIT, form

    key, _ = make_key(org, allowed_models=["gpt-4o"])

    response = web.post(EDIT.format(key.key_id), form(key, allowed_models=["not-a-model"]))

    assert response.status_code == 400
    key.refresh_from_db()
    assert key.allowed_models == ["gpt-4o"]


def test_create_api_key_takes_models(org):
    out = StringIO()
    call_command(
        "create_api_key", "--org", org.slug, "--name", "ci", "--models", "gpt-4o, gpt-4o-mini",
        "--json", stdout=out,
    )  # fmt: skip

    assert '"allowed_models": ["gpt-4o", "gpt-4o-mini"]' in out.getvalue()
    assert ApiKey.objects.get(name="ci").allowed_models == ["gpt-4o", "gpt-4o-mini"]


def test_create_api_key_refuses_an_unknown_model_and_creates_nothing(org):
    before = ApiKey.objects.count()

    with pytest.raises(CommandError, match="allowed_models"):
        call_command(
            "create_api_key", "--org", org.slug, "--name", "ci", "--models", "gpt-5",
            stdout=StringIO(), stderr=StringIO(),
        )  # fmt: skip

    assert ApiKey.objects.count() == before
