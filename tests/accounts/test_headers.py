"""Every page has a Content-Security-Policy and no inline script; every page answered to a
signed-in person is ``Cache-Control: no-store``."""

from html.parser import HTMLParser

import pytest
from django.contrib import admin
from django.test import Client
from django.urls import reverse

from accounts.models import Membership
from alerts.services import alertrule_create
from jobs.services import job_submit
from tests.helpers import SYSTEM, enable_totp, mark_recently_authenticated

DATA_TYPES = {"application/json", "application/ld+json"}


class ScriptFinder(HTMLParser):
    """Collect inline scripts: <script> bodies, on* handlers and javascript: URLs."""

    def __init__(self):
        super().__init__()
        self.inline = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for name, value in attrs.items():
            if name.startswith("on"):
                self.inline.append(f"<{tag} {name}=…>")
            if name in ("href", "src", "action") and (value or "").strip().lower().startswith(
                "javascript:"
            ):
                self.inline.append(f"<{tag} {name}=javascript:…>")
        if tag == "script":
            kind = (attrs.get("type") or "").lower()
            self._in_script = "src" not in attrs and kind not in DATA_TYPES

    def handle_data(self, data):
        if self._in_script and data.strip():
            self.inline.append(f"<script>{data.strip()[:40]}…")

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False


def inline_scripts(html: str) -> list[str]:
    finder = ScriptFinder()
    finder.feed(html)
    return finder.inline


def test_the_finder_finds_inline_scripts():
    assert inline_scripts("<script>alert(1)</script>")
    assert inline_scripts('<a href="javascript:alert(1)">x</a>')
    assert inline_scripts('<button onclick="x()">x</button>')
    assert not inline_scripts('<script src="/static/a.js"></script>')
    assert not inline_scripts('<script type="application/json">{"a": 1}</script>')


@pytest.fixture
def world(org, make_user, make_key):
    owner = make_user(org, role=Membership.Role.OWNER)
    key, _ = make_key(org, name="Header key")
    job_submit(key=key, prompt="a job for the Jobs pages", options={})
    rule = alertrule_create(
        organization=org,
        actor=SYSTEM,
        name="Too many",
        metric="requests",
        threshold=10,
        window_minutes=60,
        api_key=None,
        channel="email",
        destination="ops@example.com",
        enabled=True,
    )
    staff = make_user(None, email="root@example.com", is_staff=True)
    staff.is_superuser = True
    staff.save()
    enable_totp(staff)
    return owner, key, rule, staff


def _signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    mark_recently_authenticated(client, user)
    return client


def _developer_pages(key, rule) -> list[str]:
    return [
        "/settings/developer/",
        "/settings/developer/keys/new/",
        f"/settings/developer/keys/{key.key_id}/",
        f"/settings/developer/keys/{key.key_id}/revoke/",
        f"/settings/developer/keys/{key.key_id}/delete/",
        f"/settings/developer/keys/{key.key_id}/rotate/",
        "/settings/developer/usage/",
        "/settings/developer/requests/",
        "/settings/developer/jobs/",
        *(
            f"/settings/developer/jobs/{job_id}/"
            for job_id in key.jobs.values_list("job_id", flat=True)
        ),
        "/settings/developer/activity/",
        "/settings/developer/alerts/",
        "/settings/developer/alerts/new/",
        f"/settings/developer/alerts/{rule.pk}/",
        f"/settings/developer/alerts/{rule.pk}/delete/",
        "/accounts/",
        "/accounts/password/change/",
        "/accounts/2fa/",
        "/accounts/2fa/totp/activate/",
        "/accounts/sessions/",
        "/accounts/reauthenticate/",
    ]


def _admin_pages() -> list[str]:
    pages = ["/admin/", "/admin/password_change/"]
    for model in admin.site._registry:
        meta = model._meta
        pages.append(reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist"))
    return pages


def _check(response, path, *, signed_in: bool):
    assert response.status_code == 200, (path, response.status_code)
    policy = response.get("Content-Security-Policy", "")
    assert "default-src 'self'" in policy and "script-src 'self'" in policy, path
    assert "unsafe-inline" not in policy
    if signed_in:
        assert "no-store" in response.get("Cache-Control", ""), path
    html = response.content.decode()
    assert inline_scripts(html) == [], (path, inline_scripts(html))


def test_every_signed_in_page_is_no_store_with_a_csp_and_no_inline_script(world):
    owner, key, rule, staff = world
    client = _signed_in(owner)
    for path in _developer_pages(key, rule):
        _check(client.get(path), path, signed_in=True)
    enable_totp(owner)
    for path in [
        "/accounts/2fa/",
        "/accounts/2fa/recovery-codes/",
        "/accounts/2fa/totp/deactivate/",
    ]:
        _check(client.get(path), path, signed_in=True)
    staff_client = _signed_in(staff)
    for path in _admin_pages():
        _check(staff_client.get(path), path, signed_in=True)


def test_signed_out_pages_have_a_csp_and_no_inline_script(client, db):
    for path in [
        "/accounts/login/",
        "/accounts/password/reset/",
        "/accounts/password/reset/done/",
        "/api/docs/",
    ]:
        _check(client.get(path), path, signed_in=False)
    # The API docs' start-up script is a file of the same origin.
    script = client.get("/api/docs/?script=")
    assert script.status_code == 200
    assert "javascript" in script["Content-Type"]
