"""Operator commands: add_member, and --json on create_org, create_user and create_api_key."""

import json

import pytest
from django.core.management import CommandError, call_command

from accounts.models import AuditEvent, Membership

PASSWORD_1 = "a-long-passphrase-1"


def run(*args) -> tuple[str, str]:
    from io import StringIO

    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue().strip(), err.getvalue().strip()


def test_add_member_puts_an_existing_user_into_another_organization(make_org, make_user):
    home, other = make_org(), make_org()
    ana = make_user(home, email="ana@example.com")
    out, _ = run("add_member", "--org", other.slug, "--email", "ANA@example.com", "--role", "admin")
    assert out == f"ana@example.com is now admin of {other.slug}"
    assert Membership.objects.get(user=ana, organization=other).role == "admin"
    event = AuditEvent.objects.get(action="membership.added", organization=other)
    assert event.organization == other and event.actor_label == "operator (add_member)"
    assert event.metadata == {"member": "ana@example.com", "from": None, "to": "admin"}


def test_add_member_json(make_org, make_user):
    other = make_org()
    make_user(make_org(), email="ana@example.com")
    out, _ = run(
        "add_member",
        "--org",
        other.slug,
        "--email",
        "ana@example.com",
        "--role",
        "member",
        "--json",
    )
    assert json.loads(out) == {
        "organization": other.slug,
        "email": "ana@example.com",
        "role": "member",
    }


def test_add_member_refusals(make_org, make_user):
    org = make_org()
    make_user(org, email="ana@example.com")
    with pytest.raises(CommandError, match="already a member"):
        run("add_member", "--org", org.slug, "--email", "ana@example.com", "--role", "admin")
    with pytest.raises(CommandError, match="No user"):
        run("add_member", "--org", org.slug, "--email", "nobody@example.com", "--role", "admin")
    with pytest.raises(CommandError, match="No organization"):
        run("add_member", "--org", "nope", "--email", "ana@example.com", "--role", "admin")
    with pytest.raises(CommandError):
        run("add_member", "--org", org.slug, "--email", "ana@example.com", "--role", "god")


def test_create_org_plain_and_json(db):
    out, _ = run("create_org", "Acme", "--plan", "business")
    assert out == "acme"
    out, _ = run("create_org", "Acme", "--plan", "business", "--credits", "5", "--json")
    assert json.loads(out) == {"slug": "acme-2", "name": "Acme", "plan": "business"}


def test_create_user_plain_and_json(org):
    out, _ = run(
        "create_user",
        "--org",
        org.slug,
        "--email",
        "a@example.com",
        "--password",
        "a-long-passphrase-1",
    )
    assert out == "a@example.com"
    out, _ = run(
        "create_user",
        "--org",
        org.slug,
        "--email",
        "b@example.com",
        "--password",
        "a-long-passphrase-1",
        "--role",
        "admin",
        "--json",
    )
    assert json.loads(out) == {
        "email": "b@example.com",
        "organization": org.slug,
        "role": "admin",
        "staff": False,
    }


def test_create_api_key_plain_and_json(org):
    out, err = run("create_api_key", "--org", org.slug, "--name", "CI")
    assert out.startswith("sk-live-") and err.startswith("key_")
    out, err = run(
        "create_api_key", "--org", org.slug, "--name", "CI 2", "--type", "test", "--json"
    )
    data = json.loads(out)
    assert err == ""
    assert data["key"].startswith("sk-test-") and data["key_id"].startswith("key_")
    assert data["organization"] == org.slug and data["type"] == "test" and data["name"] == "CI 2"


def test_create_user_adds_the_member_through_the_one_member_service(org):
    run("create_user", "--org", org.slug, "--email", "o@example.com", "--password", PASSWORD_1)
    run(
        "create_user",
        *("--org", org.slug, "--email", "p@example.com", "--password", PASSWORD_1),
        *("--role", "owner"),
    )
    # An operator acts as an owner, so it may make owners; the addition is audited as any.
    assert Membership.objects.get(user__email="p@example.com", organization=org).role == "owner"
    event = AuditEvent.objects.get(action="membership.added", target_label="p@example.com as owner")
    assert event.organization == org and event.actor_label == "operator (create_user)"
    assert event.metadata == {"member": "p@example.com", "from": None, "to": "owner"}


def test_create_user_leaves_no_user_when_the_membership_is_refused(org, monkeypatch):
    from accounts.errors import MembershipForbidden
    from accounts.management.commands import create_user
    from accounts.models import User

    def refuse(**arguments):
        raise MembershipForbidden()

    monkeypatch.setattr(create_user, "membership_create", refuse)
    with pytest.raises(CommandError):
        run("create_user", "--org", org.slug, "--email", "r@example.com", "--password", PASSWORD_1)
    assert not User.objects.filter(email="r@example.com").exists()


def test_a_member_cannot_be_added_twice_to_change_their_role(org, make_user):
    from accounts.errors import AlreadyMember
    from accounts.members.services import membership_create
    from tests.helpers import SYSTEM

    ana = make_user(org, role="member")
    with pytest.raises(AlreadyMember):
        membership_create(user=ana, organization=org, role="owner", actor=SYSTEM)
    assert Membership.objects.get(user=ana, organization=org).role == "member"


def test_a_member_adding_someone_needs_the_role_to_grant_it(org, make_user, make_org):
    from accounts.audit import Actor
    from accounts.errors import MembershipForbidden, OwnerRequired
    from accounts.members.services import membership_create

    admin, member, newcomer = (
        make_user(org, role="admin"),
        make_user(org, role="member"),
        make_user(make_org()),
    )
    with pytest.raises(OwnerRequired):
        membership_create(user=newcomer, organization=org, role="owner", actor=Actor(user=admin))
    with pytest.raises(MembershipForbidden):
        membership_create(user=newcomer, organization=org, role="member", actor=Actor(user=member))
    assert not Membership.objects.filter(user=newcomer, organization=org).exists()
