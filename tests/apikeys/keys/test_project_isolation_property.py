"""Property: through the API, a key's reach ends at its project.

Random keys of three projects send random requests (create a key naming a project or none,
read, change, rotate or revoke a key of any project). Every key created lands in the acting
key's project; naming another project is refused with ``exceeds_own_privileges`` on
``project`` and creates nothing; and every request about another project's key is a 404 that
changes nothing.
"""

from django.core.cache import cache
from django.db import transaction
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from accounts.projects.selectors import project_default
from accounts.projects.services import project_create
from apikeys.keys.models import ApiKey, Permission
from tests.helpers import SYSTEM

ALL = list(Permission.values)
PROJECTS = 3
ACTIONS = ["create", "create-named", "get", "patch", "rotate", "revoke"]
operations = st.lists(
    st.tuples(
        st.integers(0, PROJECTS - 1),  # the acting key's project
        st.sampled_from(ACTIONS),
        st.integers(0, PROJECTS - 1),  # the project named or whose key is targeted
    ),
    min_size=1,
    max_size=6,
)


def _snapshot():
    return list(ApiKey.objects.order_by("pk").values_list("key_id", "project_id", "status", "name"))


@hypothesis_settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=operations)
def test_a_key_never_reaches_outside_its_project(org, make_key, client_for, settings, ops):
    settings.APIKEYS_RATE_LIMITS_ENABLED = False
    with transaction.atomic():
        cache.clear()
        projects = [project_default(organization=org)] + [
            project_create(organization=org, name=f"P{n}", actor=SYSTEM) for n in range(1, PROJECTS)
        ]
        ids = [p.project_id for p in projects]
        actors = [make_key(org, permissions=ALL, project=p) for p in projects]
        targets = [make_key(org, permissions=["jobs:read"], project=p)[0] for p in projects]
        for acting_index, action, target_index in ops:
            acting, plaintext = actors[acting_index]
            client = client_for(plaintext)
            same = acting_index == target_index
            before = _snapshot()
            if action.startswith("create"):
                body = {"name": "made"}
                if action == "create-named":
                    body["project"] = ids[target_index]
                response = client.post("/api/v1/keys", body, format="json")
                if action == "create" or same:
                    assert response.status_code == 201, response.json()
                    made = ApiKey.objects.get(key_id=response.json()["id"])
                    assert made.project_id == acting.project_id
                    assert response.json()["project"] == acting.project_id
                else:
                    assert response.status_code == 403
                    error = response.json()["error"]
                    assert (error["code"], list(error["fields"])) == (
                        "exceeds_own_privileges",
                        ["project"],
                    )
                    assert _snapshot() == before
                continue
            url = f"/api/v1/keys/{targets[target_index].key_id}"
            response = {
                "get": lambda: client.get(url),
                "patch": lambda: client.patch(url, {"name": "renamed"}, format="json"),
                "rotate": lambda: client.post(f"{url}/rotate", {}, format="json"),
                "revoke": lambda: client.post(f"{url}/revoke", {}, format="json"),
            }[action]()
            if same:
                assert response.status_code in (200, 409), response.json()  # 409: revoked
            else:
                assert response.status_code == 404
                assert response.json()["error"]["code"] == "key_not_found"
                assert _snapshot() == before
        transaction.set_rollback(True)
