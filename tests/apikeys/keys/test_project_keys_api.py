"""Keys belong to one project: the key API sees and manages only the acting key's project, and
the project is one more axis of the privilege rule."""

import pytest

from accounts.models import AuditEvent
from accounts.projects.selectors import project_default
from accounts.projects.services import project_create
from apikeys.keys.models import ApiKey, Permission
from apikeys.keys.services import apikey_update
from tests.helpers import SYSTEM, assert_exceeds, key_state

ALL = list(Permission.values)


@pytest.fixture
def projects(org):
    return project_default(organization=org), project_create(
        organization=org, name="Mobile", actor=SYSTEM
    )


@pytest.fixture
def mobile_manager(org, projects, make_key, client_for):
    """A key with every permission in the Mobile project, and its client."""
    key, plaintext = make_key(org, name="Mobile manager", permissions=ALL, project=projects[1])
    return key, client_for(plaintext)


def _code(response):
    return response.json()["error"]["code"]


def test_a_new_organization_has_a_default_project_and_keys_go_there(org, make_key):
    default = project_default(organization=org)
    assert default.name == "Default" and default.project_id.startswith("proj_")
    key, _ = make_key(org)
    assert key.project_id == default.project_id


def test_a_key_is_created_in_the_acting_keys_project_when_none_is_named(
    org, projects, mobile_manager
):
    _, client = mobile_manager
    response = client.post("/api/v1/keys", {"name": "CI"}, format="json")
    assert response.status_code == 201
    assert response.json()["project"] == projects[1].project_id
    assert ApiKey.objects.get(key_id=response.json()["id"]).project_id == projects[1].project_id


def test_a_key_names_its_own_project_explicitly(projects, mobile_manager):
    _, client = mobile_manager
    response = client.post(
        "/api/v1/keys", {"name": "CI", "project": projects[1].project_id}, format="json"
    )
    assert response.status_code == 201


@pytest.mark.parametrize("which", ["other", "unknown", "other_org"])
def test_a_key_cannot_mint_into_another_project(which, org, make_org, projects, mobile_manager):
    acting, client = mobile_manager
    target = {
        "other": projects[0].project_id,
        "unknown": "proj_doesnotexist0000000",
        "other_org": project_default(organization=make_org()).project_id,
    }[which]
    before = ApiKey.objects.count()

    response = client.post("/api/v1/keys", {"name": "Sneaky", "project": target}, format="json")

    # The same answer whether the project exists: a key learns nothing of other projects.
    assert_exceeds(response, "project")
    assert ApiKey.objects.count() == before
    refusal = AuditEvent.objects.get(action="api_key.privileges_exceeded")
    assert refusal.actor_key_id == acting.pk and refusal.metadata["fields"] == ["project"]


def test_another_projects_key_is_404_on_every_route(org, projects, make_key, mobile_manager):
    _, client = mobile_manager
    other, _ = make_key(org, name="Default's key", permissions=["jobs:read"])
    before = key_state(other)
    url = f"/api/v1/keys/{other.key_id}"
    answers = [
        client.get(url),
        client.patch(url, {"name": "mine now"}, format="json"),
        client.delete(url),
        *(
            client.post(f"{url}/{action}", {}, format="json")
            for action in ("revoke", "disable", "enable", "rotate")
        ),
    ]
    assert [(r.status_code, _code(r)) for r in answers] == [(404, "key_not_found")] * 7
    assert key_state(other) == before


def test_the_list_shows_only_the_acting_keys_project(org, projects, make_key, mobile_manager):
    acting, client = mobile_manager
    default_key, _ = make_key(org)
    mobile_key, _ = make_key(org, project=projects[1])

    listed = {k["id"] for k in client.get("/api/v1/keys").json()["results"]}
    assert listed == {acting.key_id, mobile_key.key_id}
    assert default_key.key_id not in listed


def test_the_list_filters_by_project(org, projects, make_key, client_for):
    key, plaintext = make_key(org, permissions=ALL)  # in Default
    client = client_for(plaintext)
    mine = client.get(f"/api/v1/keys?project={projects[0].project_id}").json()["results"]
    assert {k["id"] for k in mine} == {key.key_id}
    # Another project's id lists nothing, as an unknown one does.
    assert client.get(f"/api/v1/keys?project={projects[1].project_id}").json()["results"] == []
    assert client.get("/api/v1/keys?project=proj_nope").json()["results"] == []
    response = client.get("/api/v1/keys?project=" + "p" * 41)
    assert response.status_code == 400 and _code(response) == "invalid_request"


def test_a_key_cannot_move_itself_or_a_key_of_its_project_elsewhere(
    org, projects, make_key, mobile_manager
):
    acting, client = mobile_manager
    weaker, _ = make_key(org, project=projects[1], permissions=["jobs:read"])
    for target in (acting, weaker):
        before = key_state(target)
        response = client.patch(
            f"/api/v1/keys/{target.key_id}", {"project": projects[0].project_id}, format="json"
        )
        assert_exceeds(response, "project")
        assert key_state(target) == before


def test_people_move_keys_between_projects_audited(org, projects, make_key):
    key, _ = make_key(org)
    moved = apikey_update(key=key, actor=SYSTEM, project=projects[1].project_id)
    assert moved.project_id == projects[1].project_id
    event = AuditEvent.objects.get(action="api_key.moved")
    assert event.metadata["changes"]["project"] == {
        "from": projects[0].project_id,
        "to": projects[1].project_id,
    }


def test_a_project_key_with_keys_manage_rotates_and_revokes_its_projects_keys(
    org, projects, make_key, mobile_manager
):
    _, client = mobile_manager
    weaker, _ = make_key(org, project=projects[1], permissions=["jobs:read"])
    assert client.post(f"/api/v1/keys/{weaker.key_id}/rotate", {}, format="json").status_code == 200
    assert client.post(f"/api/v1/keys/{weaker.key_id}/revoke", {}, format="json").status_code == 200


def test_cli_creates_a_key_in_the_named_project(org, projects, capsys):
    from django.core.management import call_command

    call_command(
        "create_api_key", org=org.slug, name="CLI", project=projects[1].project_id, json=True
    )
    import json

    body = json.loads(capsys.readouterr().out)
    assert body["project"] == projects[1].project_id
    assert ApiKey.objects.get(key_id=body["key_id"]).project_id == projects[1].project_id


def test_cli_refuses_an_unknown_project(org):
    from django.core.management import call_command
    from django.core.management.base import CommandError

    with pytest.raises((CommandError, SystemExit)):
        call_command("create_api_key", org=org.slug, name="CLI", project="proj_nope")
    assert not ApiKey.objects.filter(name="CLI").exists()


@pytest.mark.parametrize("action", ["revoke", "disable", "rotate", "update"])
def test_the_services_refuse_a_key_acting_on_another_projects_key(org, projects, make_key, action):
    """The project axis holds in the services too, whatever a caller looked the key up with."""
    from accounts.audit import Actor
    from apikeys.keys import services
    from apikeys.keys.errors import ExceedsOwnPrivileges

    acting, _ = make_key(org, permissions=ALL, project=projects[1])
    target, _ = make_key(org, permissions=["jobs:read"])  # Default
    before = key_state(target)
    call = {
        "revoke": lambda: services.apikey_revoke(key=target, actor=Actor(key=acting)),
        "disable": lambda: services.apikey_disable(key=target, actor=Actor(key=acting)),
        "rotate": lambda: services.apikey_rotate(key=target, actor=Actor(key=acting)),
        "update": lambda: services.apikey_update(key=target, actor=Actor(key=acting), name="x"),
    }[action]
    with pytest.raises(ExceedsOwnPrivileges) as refused:
        call()
    assert list(refused.value.fields) == ["project"]
    assert key_state(target) == before
