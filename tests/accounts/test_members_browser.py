"""Members in headless Chromium: an owner invites an address, the invitee follows the emailed
link, sets a password and sees the keys read-only; promoted to admin they create a key; removed,
their next page load is refused; the last owner can be neither demoted nor removed.

The pattern of ``test_web_browser_frontdoor.py``: Debian's ``/usr/bin/chromium``, skipped with
a reason without it; the live server runs in this process, so the email is in ``mail.outbox``.
"""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.core import mail

from accounts.models import Membership
from apikeys.keys.models import ApiKey
from tests.helpers import BROWSER_TESTS, PASSWORD

SHOTS = Path(settings.BASE_DIR) / "artifacts" / "screenshots"

pytestmark = BROWSER_TESTS


@pytest.fixture
def new_page(browser, live_server):
    contexts = []

    def make():
        context = browser.new_context(
            viewport={"width": 1280, "height": 900}, base_url=live_server.url
        )
        contexts.append(context)
        page = context.new_page()
        errors = []
        page.on("console", lambda m: "Content Security Policy" in m.text and errors.append(m.text))
        page.csp_violations = errors
        return page

    yield make
    for context in contexts:
        context.close()


def sign_in(page, email, password=PASSWORD):
    page.goto("/accounts/login/")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/settings/developer/")


def shot(page, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def set_role(page, email, role):
    page.get_by_label(f"Role of {email}", exact=True).select_option(role)
    page.get_by_role("button", name=f"Change role of {email}").click()
    page.wait_for_load_state()


def test_invite_promote_remove_and_the_last_owner(new_page, org, make_user, make_key):
    owner = make_user(org, role=Membership.Role.OWNER, email="owner@acme.example")
    make_key(org, name="Existing key")
    invitee = "ana@acme.example"

    # The owner invites an address as a member.
    boss = new_page()
    sign_in(boss, owner.email)
    boss.get_by_role("link", name="Members").click()
    boss.wait_for_url("**/settings/developer/members/")
    boss.get_by_label("Email address").fill(invitee)
    boss.get_by_label("Role", exact=True).select_option("member")
    boss.get_by_role("button", name="Send invitation").click()
    boss.get_by_text(f"Invitation sent to {invitee}").wait_for()
    shot(boss, "members-invited")

    # The invitee follows the emailed link and sets a password.
    assert len(mail.outbox) == 1 and mail.outbox[0].to == [invitee]
    link = re.search(r"https?://\S+/accounts/invitation/\S+/", mail.outbox[0].body).group(0)
    ana = new_page()
    ana.goto(link)
    ana.get_by_label("Your name").fill("Ana")
    ana.get_by_label("Password", exact=True).fill("a-brand-new-long-passphrase-7")
    ana.get_by_label("Password (again)").fill("a-brand-new-long-passphrase-7")
    shot(ana, "invitation-new-account")
    ana.get_by_role("button", name="Create account and join").click()
    ana.wait_for_url("**/settings/developer/")
    # A member sees the keys, read-only.
    assert ana.get_by_text("Existing key").count() == 1
    assert ana.get_by_role("link", name="Create key").count() == 0
    assert "You are a member of" in ana.content()

    # The owner promotes them to admin; they can create a key.
    boss.reload()
    set_role(boss, invitee, "admin")
    boss.get_by_text(f"{invitee} is now admin").wait_for()
    ana.reload()
    ana.get_by_role("link", name="Create key").click()
    ana.get_by_label("Name").fill("Ana's key")
    ana.get_by_role("button", name="Create key").click()
    ana.get_by_text("It will not be shown again").wait_for()
    assert ApiKey.objects.get(name="Ana's key").created_by.email == invitee

    # The owner removes them; their next page load is refused.
    boss.goto("/settings/developer/members/")
    boss.get_by_role("link", name=f"Remove {invitee}").click()
    boss.get_by_role("button", name=f"Remove {invitee}").click()
    boss.get_by_text(f"{invitee} is no longer a member").wait_for()
    response = ana.goto("/settings/developer/")
    assert response.status == 403
    assert "no longer a member" in ana.content()
    shot(ana, "member-removed")
    # The key they created keeps its creator and stays the organization's.
    assert ApiKey.objects.get(name="Ana's key").organization == org

    # Demoting or removing the last owner is refused.
    set_role(boss, owner.email, "member")
    boss.get_by_text("last owner").wait_for()
    boss.get_by_role("link", name=f"Remove {owner.email}").click()
    boss.get_by_role("button", name=f"Remove {owner.email}").click()
    boss.get_by_text("last owner").wait_for()
    assert Membership.objects.get(user=owner).role == Membership.Role.OWNER
    shot(boss, "members-last-owner")

    # Every step is in Activity.
    boss.get_by_role("link", name="Activity").click()
    for action in (
        "invitation.created",
        "invitation.accepted",
        "membership.role_changed",
        "membership.removed",
    ):
        assert boss.get_by_text(action, exact=True).count() >= 1, action
    assert boss.csp_violations == [] and ana.csp_violations == []
