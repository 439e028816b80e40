"""Refusals about people, organizations, plans, members and invitations, each with its code."""

from perceptis.errors import DomainError


class PlanNotFound(DomainError):
    code = "plan_not_found"
    default_message = "No such plan."


class TwoFactorNotSetUp(DomainError):
    code = "two_factor_not_set_up"
    status_code = 409
    default_message = "Set up two-factor for yourself before requiring it of everyone."


class OrganizationNotFound(DomainError):
    code = "organization_not_found"
    status_code = 404
    default_message = "No such organization."


class MembershipForbidden(DomainError):
    code = "membership_forbidden"
    status_code = 403
    default_message = "Only the organization's owners and admins manage its members."


class OwnerRequired(DomainError):
    code = "owner_required"
    status_code = 403
    default_message = "Only an owner can do this to owners or make someone an owner."


class LastOwner(DomainError):
    code = "last_owner"
    status_code = 409
    default_message = "The organization's last owner can be neither demoted nor removed."


class AlreadyMember(DomainError):
    code = "already_member"
    status_code = 409
    default_message = "That address already belongs to a member of the organization."


class InvitationPending(DomainError):
    code = "invitation_pending"
    status_code = 409
    default_message = "That address already has a pending invitation; resend or revoke it."


class UnknownRole(DomainError):
    code = "unknown_role"
    default_message = "Choose owner, admin or member."


class MemberNotFound(DomainError):
    code = "member_not_found"
    status_code = 404
    default_message = "No such member in this organization."


class InvitationNotFound(DomainError):
    code = "invitation_not_found"
    status_code = 404
    default_message = "This invitation link is not valid."


class InvitationExpired(DomainError):
    code = "invitation_expired"
    status_code = 410
    default_message = "This invitation has expired. Ask for a new one."


class InvitationUsed(DomainError):
    code = "invitation_used"
    status_code = 410
    default_message = "This invitation has already been used."


class InvitationRevoked(DomainError):
    code = "invitation_revoked"
    status_code = 410
    default_message = "This invitation was withdrawn."


class InvitationWrongAccount(DomainError):
    code = "invitation_wrong_account"
    status_code = 403
    default_message = "This invitation is for another email address."


class AccountExists(DomainError):
    code = "account_exists"
    status_code = 409
    default_message = "An account with this address exists: sign in to accept the invitation."


class ProjectLimitReached(DomainError):
    code = "project_limit_reached"
    status_code = 403
    default_message = "The organization's plan allows no more open projects."


class ProjectNotFound(DomainError):
    code = "project_not_found"
    status_code = 404
    default_message = "No such project in this organization."


class ProjectHasKeys(DomainError):
    code = "project_has_keys"
    status_code = 409
    default_message = "Revoke the project's keys before archiving it."
