"""Operator commands: what they change (call_command) and how they talk (real subprocesses)."""

import re
from concurrent.futures import ThreadPoolExecutor
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Sum

from accounts.models import AuditEvent, Membership, Organization, User
from apikeys.keys.models import ApiKey
from apikeys.management.commands.bootstrap_demo import DEMO_EMAIL
from billing.models import LedgerEntry
from billing.selectors import credits_balance
from tests.helpers import PASSWORD
from tests.processes import manage, sqlite_env

LIVE_KEY = re.compile(r"^sk-live-per-[A-Za-z0-9_-]{20,}$")
KEY_ID = re.compile(r"^key_[A-Za-z0-9]+$")


def run(*args) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def ledger_sum(org) -> int:
    return (
        LedgerEntry.objects.filter(account__organization=org).aggregate(s=Sum("amount"))["s"] or 0
    )


def generate(client_for, plaintext):
    return client_for(plaintext).post("/api/v1/generate", {"prompt": "hi"}, format="json")


# --- behaviour, in process -------------------------------------------------------------------


@pytest.mark.parametrize("credits", [0, 7])
def test_create_org_balance_is_exactly_the_given_credits(db, credits):
    out, _ = run("create_org", "Acme Corp", "--plan", "business", "--credits", str(credits))

    org = Organization.objects.get(slug=out.strip())
    assert org.plan.code == "business"
    assert credits_balance(organization=org) == credits
    assert ledger_sum(org) == credits  # no plan grant on top
    assert LedgerEntry.objects.filter(account__organization=org).count() == (1 if credits else 0)


def test_create_org_without_credits_opens_with_the_plans_monthly_grant(db):
    out, _ = run("create_org", "Acme Corp", "--plan", "business")

    org = Organization.objects.get(slug=out.strip())
    assert credits_balance(organization=org) == org.plan.monthly_credits


def test_create_org_makes_unique_slugs(db):
    first, _ = run("create_org", "Acme Corp", "--plan", "business", "--credits", "0")
    second, _ = run("create_org", "Acme Corp", "--plan", "business", "--credits", "0")
    assert first.strip() != second.strip()


def test_create_api_key_prints_a_key_that_works_against_the_api(org, client_for):
    out, err = run("create_api_key", "--org", org.slug, "--name", "CI")

    plaintext, key_id = out.strip(), err.strip()
    assert LIVE_KEY.match(plaintext)
    assert ApiKey.objects.get(key_id=key_id).organization == org
    assert generate(client_for, plaintext).status_code == 202


def test_create_api_key_with_read_only_permissions_cannot_generate(org, client_for):
    out, _ = run("create_api_key", "--org", org.slug, "--name", "RO", "--permissions", "jobs:read")

    response = generate(client_for, out.strip())
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "insufficient_permissions"


def test_revoke_api_key_stops_the_key(org, live_key, client_for):
    key, plaintext = live_key

    run("revoke_api_key", key.key_id)

    response = generate(client_for, plaintext)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "api_key_revoked"


def test_set_plan_changes_api_eligibility(org, live_key, client_for):
    _key, plaintext = live_key

    run("set_plan", "--org", org.slug, "--plan", "starter")
    refused = generate(client_for, plaintext)
    run("set_plan", "--org", org.slug, "--plan", "enterprise")
    allowed = generate(client_for, plaintext)

    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "plan_not_eligible"
    assert allowed.status_code == 202
    assert AuditEvent.objects.filter(organization=org, action="organization.plan_changed").count()


def test_grant_credits_writes_the_ledger_and_the_audit_log(make_org):
    org = make_org(credits=3)

    out, _ = run("grant_credits", "--org", org.slug, "--amount", "50", "--reason", "Invoice 12")

    assert "53" in out
    assert credits_balance(organization=org) == 53 == ledger_sum(org)
    entry = LedgerEntry.objects.filter(account__organization=org).order_by("-id").first()
    assert (entry.kind, entry.amount, entry.reason) == ("grant", 50, "Invoice 12")
    assert AuditEvent.objects.filter(
        organization=org, action="credits.granted", metadata__amount=50
    ).exists()


def test_create_user_adds_a_member_who_can_sign_in(org, client):
    out, _ = run(
        "create_user", "--org", org.slug, "--email", "Ops@Example.com", "--password", PASSWORD
    )

    user = User.objects.get(email="ops@example.com")
    assert out.strip() == "ops@example.com"
    assert user.check_password(PASSWORD)
    assert Membership.objects.get(user=user, organization=org).role == "member"
    assert client.login(email="ops@example.com", password=PASSWORD)


def test_create_user_refusal_writes_nothing(org):
    with pytest.raises(CommandError):
        run("create_user", "--org", org.slug, "--email", "weak@example.com", "--password", "123")
    assert not User.objects.filter(email="weak@example.com").exists()


def test_bootstrap_demo_makes_an_org_a_user_and_a_working_key(db, client_for, settings):
    settings.DEBUG = True  # a development machine, as in the README
    out, _ = run("bootstrap_demo")

    org = Organization.objects.get(slug="demo")
    plaintext = next(w for w in out.split() if w.startswith("sk-live-per-"))
    assert credits_balance(organization=org) == 1000
    assert Membership.objects.get(user__email=DEMO_EMAIL, organization=org).role == "owner"
    assert generate(client_for, plaintext).status_code == 202

    again, _ = run("bootstrap_demo")
    assert "sk-" not in again
    assert Organization.objects.filter(slug__startswith="demo").count() == 1


def test_bootstrap_demo_refuses_a_production_server_unless_told(db, settings):
    from django.core.management.base import CommandError

    settings.DEBUG = False
    with pytest.raises(CommandError, match="--allow-insecure-demo"):
        run("bootstrap_demo")
    assert not Organization.objects.filter(slug="demo").exists()
    out, _ = run("bootstrap_demo", "--allow-insecure-demo")
    assert "sk-live-per-" in out


# --- the real programs: output streams, exit codes, errors ------------------------------------

COMMANDS = [
    "create_org",
    "create_user",
    "create_api_key",
    "revoke_api_key",
    "set_plan",
    "grant_credits",
    "bootstrap_demo",
]
STRONG = "correct-horse-battery-staple"
BAD_INPUT = {
    "unknown org": ["grant_credits", "--org", "nope", "--amount", "5", "--reason", "x"],
    "unknown plan": ["create_org", "Gold Co", "--plan", "gold"],
    "negative credits": ["create_org", "Neg Co", "--plan", "business", "--credits", "-5"],
    "blank org name": ["create_org", "  ", "--plan", "business"],
    "bad email": ["create_user", "--org", "acme", "--email", "not-an-email", "--password", STRONG],
    "duplicate email": [
        "create_user",
        "--org",
        "acme",
        "--email",
        "taken@example.com",
        "--password",
        STRONG,
    ],  # fmt: skip
    "weak password": [
        "create_user",
        "--org",
        "acme",
        "--email",
        "w@example.com",
        "--password",
        "1",
    ],
    "user without org": ["create_user", "--email", "x@example.com", "--password", STRONG],
    "bad permissions": [
        "create_api_key",
        "--org",
        "acme",
        "--name",
        "k",
        "--permissions",
        "jobs:delete",
    ],  # fmt: skip
    "non-numeric amount": ["grant_credits", "--org", "acme", "--amount", "ten", "--reason", "x"],
    "unknown key": ["revoke_api_key", "key_doesnotexist"],
}


@pytest.fixture(scope="module")
def cli(tmp_path_factory):
    """An SQLite database of its own, migrated once, with an organization 'acme' and a user."""
    env = sqlite_env(tmp_path_factory.mktemp("cli") / "cli.sqlite3")
    for args in (
        ["migrate", "--noinput", "-v", "0"],
        ["create_org", "Acme", "--plan", "business", "--credits", "0"],
        ["create_user", "--org", "acme", "--email", "taken@example.com", "--password", STRONG],
    ):
        result = manage(*args, env=env, timeout=120)
        assert result.returncode == 0, result.stderr
    return env


def _run_all(env, runs: dict) -> dict:
    # Each run starts Python and Django; in parallel the module stays fast.
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = {name: pool.submit(manage, *args, env=env) for name, args in runs.items()}
        return {name: future.result() for name, future in futures.items()}


@pytest.fixture(scope="module")
def help_runs(cli):
    return _run_all(cli, {command: [command, "--help"] for command in COMMANDS})


@pytest.fixture(scope="module")
def bad_runs(cli):
    return _run_all(cli, BAD_INPUT)


def test_create_org_prints_only_the_slug(cli):
    result = manage(
        "create_org", "Slug Test Ltd", "--plan", "enterprise", "--credits", "0", env=cli
    )

    assert result.returncode == 0
    assert result.stdout == "slug-test-ltd\n"
    assert result.stderr == ""


def test_create_api_key_prints_only_the_key_on_stdout_and_the_key_id_on_stderr(cli):
    result = manage("create_api_key", "--org", "acme", "--name", "Deploy", env=cli)

    assert result.returncode == 0
    assert LIVE_KEY.match(result.stdout.rstrip("\n"))
    assert result.stdout.count("\n") == 1
    assert KEY_ID.match(result.stderr.strip())
    assert result.stdout.strip() not in result.stderr


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_and_exits_0(help_runs, command):
    result = help_runs[command]

    assert result.returncode == 0, result.stderr
    assert f"manage.py {command}" in result.stdout
    assert result.stderr == ""


@pytest.mark.parametrize("case", sorted(BAD_INPUT))
def test_bad_input_exits_non_zero_with_one_line_on_stderr(bad_runs, case):
    result = bad_runs[case]

    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert result.stdout == ""
