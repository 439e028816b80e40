"""What an organization may have in flight and spend, checked inside the submission.

Every check runs in the submission's transaction after the organization's credit account row
is locked, so concurrent submissions of one organization are decided one after another and
none of them can slip past a cap between the count and the insert (PostgreSQL; SQLite
serializes writers anyway).
"""

from apikeys.models import ApiKey
from billing.services import credits_account_lock


def submission_limits_check(*, key: ApiKey, reserve: int, now) -> None:
    """Refuse a submission past the organization's caps; call inside its transaction."""
    credits_account_lock(organization=key.organization)
