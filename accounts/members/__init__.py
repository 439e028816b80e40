"""An organization's members: invitations, roles, removal and ownership."""
