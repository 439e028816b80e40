"""The organization's key policy: how long a key may live, and whether it must expire.

An owner (or support) sets two things on the organization: ``key_max_lifetime_days`` (1-366,
or none) and ``key_expiry_required``. A maximum implies an expiry, since a key that never
expires outlives any maximum. Creating a key, rotating one, or changing a key's expiry so that
it breaks the policy is ``400 key_policy_violation`` with ``fields``; keys made before the
policy keep working and are only marked as outside it.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from accounts.models import Organization
from apikeys.keys.errors import KeyPolicyViolation

MIN_LIFETIME_DAYS, MAX_LIFETIME_DAYS = 1, 366
# The create form's expiry presets, in days; those within the maximum are offered.
PRESET_DAYS = (7, 30, 60, 90, 180, 366)


@dataclass(frozen=True)
class KeyPolicy:
    max_lifetime_days: int | None = None
    expiry_required: bool = False

    @classmethod
    def of(cls, organization: Organization) -> "KeyPolicy":
        return cls(
            max_lifetime_days=organization.key_max_lifetime_days,
            expiry_required=organization.key_expiry_required,
        )

    @property
    def must_expire(self) -> bool:
        return self.expiry_required or self.max_lifetime_days is not None

    @property
    def is_set(self) -> bool:
        return self.must_expire

    def latest_expiry(self, now: datetime) -> datetime | None:
        """Return the latest expiry a key made at ``now`` may have (None: no maximum)."""
        if self.max_lifetime_days is None:
            return None
        return now + timedelta(days=self.max_lifetime_days)

    def problem(self, expires_at: datetime | None, now: datetime) -> str | None:
        """Return why a key expiring at ``expires_at`` (made or renewed at ``now``) breaks the
        policy, or None when it keeps it."""
        latest = self.latest_expiry(now)
        if expires_at is None and self.must_expire:
            if latest is None:
                return "The organization's key policy requires every key to have an expiry."
            return (
                "The organization's key policy requires an expiry within "
                f"{self.max_lifetime_days} days (by {latest:%Y-%m-%d %H:%M} UTC)."
            )
        if expires_at is not None and latest is not None and expires_at > latest:
            return (
                f"The organization's key policy allows keys to live at most "
                f"{self.max_lifetime_days} days: expire by {latest:%Y-%m-%d %H:%M} UTC."
            )
        return None

    def presets(self) -> list[int]:
        """Return the expiry presets (days) the create form offers under this policy."""
        if self.max_lifetime_days is None:
            return list(PRESET_DAYS)
        within = [d for d in PRESET_DAYS if d < self.max_lifetime_days]
        return [*within, self.max_lifetime_days]


def check(organization: Organization, *, expires_at: datetime | None, now: datetime) -> None:
    """Refuse (``key_policy_violation`` with ``fields``) an expiry that breaks the policy."""
    reason = KeyPolicy.of(organization).problem(expires_at, now)
    if reason is not None:
        raise KeyPolicyViolation(reason, fields={"expires_at": [reason]})


def outside(key, organization: Organization, now: datetime) -> bool:
    """Return whether an existing ``key`` breaks the policy as it stands now.

    A key that expires is measured from its creation (or last rotation), so a key that kept
    the policy when it was made is not marked for the time that has passed since.
    """
    start = key.rotated_at or key.created_at
    return KeyPolicy.of(organization).problem(key.expires_at, start) is not None
