"""The plan's cap on key creations per organization per UTC day.

Every key made counts, by any means (API, Developer Settings, commands) and whatever became of
it: revoked and deleted keys are rows still, so creating and revoking keys in a loop, or minting
fresh test keys for fresh daily quotas, stops at the cap.
"""

import math
from datetime import UTC, datetime, timedelta

from django.utils import timezone

from accounts.models import Organization
from apikeys.keys.errors import KeyCreationLimitReached
from apikeys.keys.models import ApiKey


def check_creations_today(organization: Organization, *, now: datetime | None = None) -> None:
    """Refuse (429 ``key_creation_limit_reached``) once today's creations reach the plan's cap.

    Call it with the organization row locked, so that concurrent creations cannot all pass.
    ``Retry-After`` is the time left until 00:00 UTC, when the count starts again.
    """
    plan = organization.plan
    cap = plan.key_creations_per_day
    if cap is None:
        return
    now = (now or timezone.now()).astimezone(UTC)
    day_start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    made = ApiKey.objects.filter(organization=organization, created_at__gte=day_start).count()
    if made >= cap:
        retry_after = max(1, math.ceil((day_start + timedelta(days=1) - now).total_seconds()))
        raise KeyCreationLimitReached(
            f"The {plan.name} plan allows {cap} key creations per organization per UTC day and "
            f"this organization has made {made} today (revoked and deleted keys count). New "
            "keys can be created again after 00:00 UTC.",
            retry_after=retry_after,
        )
