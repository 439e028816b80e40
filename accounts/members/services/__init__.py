"""Every change to an organization's members and invitations (see ``roles`` and
``invitations``); each takes the ``actor`` and writes its audit row in the same transaction."""

from accounts.members.services.invitations import (
    invitation_accept,
    invitation_accept_new_account,
    invitation_create,
    invitation_resend,
    invitation_revoke,
)
from accounts.members.services.roles import (
    membership_change_role,
    membership_create,
    membership_remove,
    organization_transfer_ownership,
)

__all__ = [
    "invitation_accept",
    "invitation_accept_new_account",
    "invitation_create",
    "invitation_resend",
    "invitation_revoke",
    "membership_change_role",
    "membership_create",
    "membership_remove",
    "organization_transfer_ownership",
]
