"""No admin page shows a plaintext key or a stored secret hash."""

from accounts.audit import Actor
from accounts.models import AuditEvent
from apikeys.keys.models import KeySecret
from apikeys.keys.services import apikey_rotate
from jobs.services import job_submit

KEYS = "/admin/apikeys/apikey/"


def _pages_for(client, key, plaintext, run_action):
    """Yield (label, html) for every admin page that concerns ``key``."""
    job = job_submit(key=key, prompt="hello").job
    yield "key list", client.get(KEYS)
    yield "key list search", client.get(KEYS, {"q": key.key_id})
    yield "key list filtered", client.get(KEYS, {"status": "active", "type__exact": key.type})
    yield "key detail", client.get(f"{KEYS}{key.pk}/change/")
    yield "key history", client.get(f"{KEYS}{key.pk}/history/")
    yield "find form", client.get(f"{KEYS}find/")
    yield "find result", client.post(f"{KEYS}find/", {"key": plaintext})
    yield "revoke confirmation", run_action(client, KEYS, "revoke_keys", [key])
    yield "disable", run_action(client, KEYS, "disable_keys", [key], follow=True)
    yield "enable", run_action(client, KEYS, "enable_keys", [key], follow=True)
    yield "jobs of key", client.get("/admin/jobs/job/", {"q": key.key_id})
    yield "job detail", client.get(f"/admin/jobs/job/{job.pk}/change/")
    yield "organization", client.get(f"/admin/accounts/organization/{key.organization_id}/change/")
    yield "audit log", client.get("/admin/accounts/auditevent/")
    for event in AuditEvent.objects.filter(target_id=key.key_id):
        yield f"audit {event.action}", client.get(f"/admin/accounts/auditevent/{event.pk}/change/")
    yield "revoke", run_action(client, KEYS, "revoke_keys", [key], post="yes", follow=True)
    yield "revoked detail", client.get(f"{KEYS}{key.pk}/change/")


def test_no_admin_page_shows_a_plaintext_key_or_a_secret_hash(
    support, root, org, make_key, run_action
):
    live, live_plain = make_key(org, name="live one")
    test, test_plain = make_key(org, name="test one", type="test")
    # A rotation with a grace period leaves the key with two working secrets.
    rotated, rotated_plain = make_key(org, name="rotated one")
    rotated, rotated_new = apikey_rotate(
        key=rotated, actor=Actor.system("tests"), grace_period_seconds=3600
    )
    plaintexts = [live_plain, test_plain, rotated_plain, rotated_new]
    cases = [
        (support, live, live_plain),
        (root, test, test_plain),
        (support, rotated, rotated_plain),
        (root, rotated, rotated_new),
    ]
    rendered = 0
    for client, key, plaintext in cases:
        for label, response in _pages_for(client, key, plaintext, run_action):
            assert response.status_code == 200, (label, response.status_code)
            html = response.content.decode()
            hashes = list(KeySecret.objects.values_list("secret_hash", flat=True))
            for secret in plaintexts:
                # Neither the key nor its random body may appear (the hint's ends may).
                assert secret not in html, label
                assert secret[12:-4] not in html, label
            for secret_hash in hashes:
                assert secret_hash not in html, label
                assert secret_hash[:16] not in html, label
            rendered += 1
    assert rendered >= 4 * 18
