"""Developer Settings says why a key cannot be created once the day's creations are used up."""

import re

from accounts.models import Plan
from apikeys.keys.models import ApiKey


def test_create_page_explains_the_daily_creation_cap(web, org, make_key):
    Plan.objects.filter(pk=org.plan_id).update(key_creations_per_day=1)
    make_key(org)
    page = web.get("/settings/developer/keys/new/")
    nonce = re.search(rb'name="nonce" value="([^"]+)"', page.content).group(1).decode()
    response = web.post(
        "/settings/developer/keys/new/",
        {
            "nonce": nonce,
            "name": "One too many",
            "type": "live",
            "environment": "production",
            "permissions": ["jobs:read"],
        },
    )
    assert response.status_code == 400
    text = response.content.decode()
    assert "allows 1 key creations per organization per UTC day" in text
    assert "after 00:00 UTC" in text
    assert not ApiKey.objects.filter(name="One too many").exists()
