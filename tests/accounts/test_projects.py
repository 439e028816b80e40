"""Projects: the plan's cap, limits, archiving, the project admin role, and every change
audited."""

import pytest

from accounts.audit import Actor
from accounts.errors import MembershipForbidden, ProjectHasKeys, ProjectLimitReached
from accounts.models import AuditEvent, Membership, Project, ProjectAdmin
from accounts.projects.selectors import managed_project_ids, project_default
from accounts.projects.services import (
    project_admin_grant,
    project_admin_revoke,
    project_archive,
    project_create,
    project_update,
)
from apikeys.keys.models import ApiKey
from apikeys.keys.services import apikey_create, apikey_revoke, apikey_update
from perceptis.errors import InvalidRequest
from tests.helpers import SYSTEM, requires_postgres


def test_business_allows_ten_open_projects_then_project_limit_reached(org):
    for n in range(9):  # the Default project is the tenth
        project_create(organization=org, name=f"P{n}", actor=SYSTEM)
    with pytest.raises(ProjectLimitReached) as refused:
        project_create(organization=org, name="Eleventh", actor=SYSTEM)
    assert refused.value.status_code == 403 and refused.value.code == "project_limit_reached"
    assert Project.objects.filter(organization=org).count() == 10


def test_archived_projects_do_not_count_toward_the_cap(org):
    made = [project_create(organization=org, name=f"P{n}", actor=SYSTEM) for n in range(9)]
    project_archive(project=made[0], actor=SYSTEM)
    project_create(organization=org, name="Replacement", actor=SYSTEM)


def test_enterprise_has_no_project_cap(make_org):
    org = make_org(plan="enterprise")
    for n in range(12):
        project_create(organization=org, name=f"P{n}", actor=SYSTEM)


def test_creating_a_project_is_audited_with_its_limits(org):
    project = project_create(
        organization=org, name="Web", monthly_spend_limit=500, rate_limit_ceiling=30, actor=SYSTEM
    )
    event = AuditEvent.objects.get(action="project.created")
    assert event.target_id == project.project_id
    assert event.metadata == {"monthly_spend_limit": 500, "rate_limit_ceiling": 30}


def test_rename_and_limits_are_each_audited(org):
    project = project_create(organization=org, name="Web", actor=SYSTEM)
    project_update(
        project=project,
        actor=SYSTEM,
        name="Website",
        monthly_spend_limit=100,
        rate_limit_ceiling=20,
    )
    actions = set(
        AuditEvent.objects.filter(target_id=project.project_id).values_list("action", flat=True)
    )
    assert {
        "project.renamed",
        "project.spend_limit_changed",
        "project.rate_limit_ceiling_changed",
    } <= actions


@pytest.mark.parametrize(
    "fields",
    [
        {"name": ""},
        {"name": "x" * 101},
        {"monthly_spend_limit": -1},
        {"monthly_spend_limit": "10"},
        {"rate_limit_ceiling": 0},
        {"rate_limit_ceiling": 601},  # above Business's 600
    ],
)
def test_bad_project_settings_are_refused_and_change_nothing(org, fields):
    project = project_create(organization=org, name="Web", actor=SYSTEM)
    with pytest.raises(InvalidRequest):
        project_update(project=project, actor=SYSTEM, **fields)
    project.refresh_from_db()
    assert (project.name, project.monthly_spend_limit, project.rate_limit_ceiling) == (
        "Web",
        None,
        None,
    )


def test_archiving_needs_the_projects_keys_revoked_first(org):
    project = project_create(organization=org, name="Web", actor=SYSTEM)
    key, _ = apikey_create(organization=org, name="k", project=project, actor=SYSTEM)
    with pytest.raises(ProjectHasKeys) as refused:
        project_archive(project=project, actor=SYSTEM)
    assert refused.value.status_code == 409
    assert Project.objects.get(pk=project.pk).archived_at is None
    apikey_revoke(key=key, actor=SYSTEM)
    project_archive(project=project, actor=SYSTEM)
    assert Project.objects.get(pk=project.pk).archived_at is not None
    assert AuditEvent.objects.filter(action="project.archived").count() == 1


def test_the_default_project_cannot_be_archived(org):
    with pytest.raises(InvalidRequest):
        project_archive(project=project_default(organization=org), actor=SYSTEM)


def test_an_archived_project_takes_no_new_keys_nor_moved_ones(org, make_key):
    project = project_create(organization=org, name="Old", actor=SYSTEM)
    project_archive(project=project, actor=SYSTEM)
    with pytest.raises(InvalidRequest) as refused:
        apikey_create(organization=org, name="k", project=project, actor=SYSTEM)
    assert "project" in refused.value.fields
    key, _ = make_key(org)
    with pytest.raises(InvalidRequest):
        apikey_update(key=key, actor=SYSTEM, project=project.project_id)
    assert ApiKey.objects.get(pk=key.pk).project_id != project.project_id


def test_a_key_cannot_be_given_more_than_its_projects_ceiling(org):
    project = project_create(organization=org, name="Web", rate_limit_ceiling=50, actor=SYSTEM)
    with pytest.raises(InvalidRequest) as refused:
        apikey_create(
            organization=org, name="k", project=project, rate_limit_per_minute=51, actor=SYSTEM
        )
    assert "rate_limit_per_minute" in refused.value.fields
    key, _ = apikey_create(organization=org, name="k", project=project, actor=SYSTEM)
    assert key.rate_limit_per_minute == 50 and key.effective_rate_limit() == 50
    # "The plan's limit" is above the ceiling: the key keeps the ceiling.
    assert (
        apikey_update(key=key, actor=SYSTEM, rate_limit_per_minute=None).rate_limit_per_minute == 50
    )
    with pytest.raises(InvalidRequest):
        apikey_update(key=key, actor=SYSTEM, rate_limit_per_minute=60)


def test_a_lower_ceiling_lowers_the_projects_keys(org):
    project = project_create(organization=org, name="Web", actor=SYSTEM)
    fast, _ = apikey_create(organization=org, name="fast", project=project, actor=SYSTEM)
    slow, _ = apikey_create(
        organization=org, name="slow", project=project, rate_limit_per_minute=5, actor=SYSTEM
    )
    project_update(project=project, actor=SYSTEM, rate_limit_ceiling=10)
    assert ApiKey.objects.get(pk=fast.pk).rate_limit_per_minute == 10
    assert ApiKey.objects.get(pk=slow.pk).rate_limit_per_minute == 5
    event = AuditEvent.objects.get(action="project.rate_limit_ceiling_changed")
    assert event.metadata["keys_lowered"] == [fast.key_id]


def test_a_key_moved_under_a_lower_ceiling_is_lowered(org, make_key):
    project = project_create(organization=org, name="Web", rate_limit_ceiling=10, actor=SYSTEM)
    key, _ = make_key(org)
    moved = apikey_update(key=key, actor=SYSTEM, project=project.project_id)
    assert moved.rate_limit_per_minute == 10


# --- people ------------------------------------------------------------------------------------


def test_members_and_keys_cannot_manage_projects(org, make_user, make_key):
    member = make_user(org, role=Membership.Role.MEMBER)
    key, _ = make_key(org)
    for actor in (Actor(user=member), Actor(key=key)):
        with pytest.raises(MembershipForbidden):
            project_create(organization=org, name="Mine", actor=actor)
    assert Project.objects.filter(organization=org).count() == 1


def test_project_admin_role_is_granted_and_revoked_audited(org, make_user):
    project = project_create(organization=org, name="Web", actor=SYSTEM)
    member = make_user(org, role=Membership.Role.MEMBER)
    membership = Membership.objects.get(user=member)
    assert managed_project_ids(user=member, organization=org) == frozenset()

    project_admin_grant(project=project, membership=membership, actor=SYSTEM)
    assert managed_project_ids(user=member, organization=org) == {project.project_id}

    project_admin_revoke(project=project, membership=membership, actor=SYSTEM)
    assert managed_project_ids(user=member, organization=org) == frozenset()
    assert not ProjectAdmin.objects.exists()
    actions = list(
        AuditEvent.objects.filter(action__startswith="project.admin").values_list(
            "action", flat=True
        )
    )
    assert sorted(actions) == ["project.admin_granted", "project.admin_revoked"]


def test_owners_and_admins_manage_every_project(org, make_user):
    admin = make_user(org, role=Membership.Role.ADMIN)
    assert managed_project_ids(user=admin, organization=org) is None
    with pytest.raises(InvalidRequest):
        project_admin_grant(
            project=project_default(organization=org),
            membership=Membership.objects.get(user=admin),
            actor=SYSTEM,
        )


def test_a_project_admin_of_another_organization_gets_nothing_here(org, make_org, make_user):
    other = make_org()
    member = make_user(other, role=Membership.Role.MEMBER)
    project = project_create(organization=org, name="Web", actor=SYSTEM)
    with pytest.raises(InvalidRequest):
        project_admin_grant(
            project=project, membership=Membership.objects.get(user=member), actor=SYSTEM
        )
    assert managed_project_ids(user=member, organization=org) == frozenset()


@requires_postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_creations_never_pass_the_project_cap(make_org):
    """Twelve owners' requests at once for the nine places left on Business: nine win."""
    import threading

    from django.db import connection

    org = make_org()
    barrier = threading.Barrier(12)
    outcomes, lock = [], threading.Lock()

    def create(n: int):
        try:
            barrier.wait(timeout=30)
            try:
                project_create(organization=org, name=f"P{n}", actor=SYSTEM)
                outcome = "created"
            except ProjectLimitReached:
                outcome = "refused"
            with lock:
                outcomes.append(outcome)
        finally:
            connection.close()

    threads = [threading.Thread(target=create, args=(n,)) for n in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["created"] * 9 + ["refused"] * 3
    assert Project.objects.filter(organization=org).count() == 10
