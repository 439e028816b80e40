"""Change, rotate and retire API keys, and record their use.

Each function takes the ``actor`` who caused the change and writes the audit row in the same
transaction. Refusals are ``DomainError`` subclasses with stable codes.
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.audit import Actor, audit_record
from apikeys.keys import keyformat, policy, privileges, spend_limits, validation
from apikeys.keys.errors import (
    KeyNotRevoked,
    KeyPolicyViolation,
    KeyRevoked,
)
from apikeys.keys.models import ApiKey, KeySecret
from apikeys.keys.projects import key_project
from apikeys.keys.services.creation import jsonable, store_secret
from perceptis.errors import InvalidRequest
from perceptis.validation import clean_fields


class _Unset:
    def __repr__(self):
        return "UNSET"


UNSET = _Unset()


def _locked(key: ApiKey) -> ApiKey:
    return ApiKey.objects.select_for_update().select_related("organization__plan").get(pk=key.pk)


@privileges.audit_refusals("update")
@transaction.atomic
def apikey_update(
    *,
    key: ApiKey,
    actor: Actor,
    name=UNSET,
    permissions=UNSET,
    rate_limit_per_minute=UNSET,
    expires_at=UNSET,
    ip_allowlist=UNSET,
    spend_limit_credits=UNSET,
    spend_limit_period=UNSET,
    project=UNSET,
    allowed_models=UNSET,
) -> ApiKey:
    """Change a key's name or settings; only the arguments given change. Revoked keys are final.

    An acting key may change only keys it dominates, and only to settings it dominates
    (``exceeds_own_privileges``, audited). A new expiry must keep the organization's key
    policy (``key_policy_violation``). ``project`` moves the key to another open project of
    the organization (``api_key.moved``; an acting key cannot, the project being an axis of
    the rule); its rate limit is lowered to that project's ceiling if above it. Jobs already
    submitted stay in the project they were submitted in.
    """
    key = _locked(key)
    if key.status == ApiKey.Status.REVOKED:
        raise KeyRevoked("A revoked key cannot be changed.")
    plan_limit = key.organization.plan.rate_limit_per_minute
    moved = {}
    if project is not UNSET:
        moved = clean_fields(
            {
                "project": lambda: key_project(
                    organization=key.organization, project=project, actor=actor
                )
            }
        )
    ceiling = (moved["project"] if moved else key.project).rate_limit_ceiling
    checks = {
        "name": (name, lambda: validation.clean_name(name, what="key")),
        "permissions": (permissions, lambda: validation.clean_permissions(permissions)),
        "rate_limit_per_minute": (
            rate_limit_per_minute,
            lambda: validation.clean_rate_limit_in_project(
                rate_limit_per_minute, plan_limit, ceiling
            ),
        ),
        "expires_at": (expires_at, lambda: validation.clean_expires_at(expires_at)),
        "ip_allowlist": (ip_allowlist, lambda: validation.clean_ip_allowlist(ip_allowlist)),
        "spend_limit_credits": (
            spend_limit_credits,
            lambda: spend_limits.clean_spend_limit(spend_limit_credits),
        ),
        "spend_limit_period": (
            spend_limit_period,
            lambda: spend_limits.clean_spend_period(spend_limit_period),
        ),
        "allowed_models": (
            allowed_models,
            lambda: validation.clean_allowed_models(allowed_models),
        ),
    }
    cleaned = clean_fields({f: check for f, (value, check) in checks.items() if value is not UNSET})
    if moved and "rate_limit_per_minute" not in cleaned:
        # A key moved under a lower ceiling keeps no more than the ceiling.
        cleaned["rate_limit_per_minute"] = validation.clean_rate_limit_in_project(
            None
            if key.rate_limit_per_minute is not None
            and ceiling is not None
            and key.rate_limit_per_minute > ceiling
            else key.rate_limit_per_minute,
            plan_limit,
            ceiling,
        )
    if "expires_at" in cleaned and cleaned["expires_at"] != key.expires_at:
        policy.check(key.organization, expires_at=cleaned["expires_at"], now=timezone.now())
    privileges.check_update(
        actor, key=key, changes={**cleaned, **moved}, plan_rate_limit=plan_limit
    )
    changes = {}
    if moved and moved["project"].project_id != key.project_id:
        changes["project"] = {"from": key.project_id, "to": moved["project"].project_id}
        key.project = moved["project"]
    for field, value in cleaned.items():
        old = getattr(key, field)
        if old != value:
            changes[field] = {"from": jsonable(old), "to": jsonable(value)}
            setattr(key, field, value)
    if changes:
        key.save(update_fields=list(changes))
        action = "api_key.renamed" if list(changes) == ["name"] else "api_key.updated"
        if "project" in changes:
            action = "api_key.moved"
        audit_record(
            actor=actor,
            action=action,
            organization=key.organization,
            target=key,
            metadata={"changes": changes, "axes": [f for f in changes if f in privileges.AXES]},
        )
    return key


def _set_status(key: ApiKey, actor: Actor, status: str, action: str, **extra) -> ApiKey:
    key.status = status
    for field, value in extra.items():
        setattr(key, field, value)
    key.save(update_fields=["status", *extra])
    audit_record(actor=actor, action=action, organization=key.organization, target=key)
    return key


@privileges.audit_refusals("revoke")
@transaction.atomic
def apikey_revoke(*, key: ApiKey, actor: Actor) -> ApiKey:
    """Revoke a key for good; its next request gets 401. Revoking twice changes nothing.

    An acting key may revoke itself and keys it dominates (``exceeds_own_privileges``).
    """
    key = _locked(key)
    privileges.check_act_on(actor, key=key, action="revoke")
    if key.status == ApiKey.Status.REVOKED:
        return key
    return _set_status(
        key,
        actor,
        ApiKey.Status.REVOKED,
        "api_key.revoked",
        revoked_at=timezone.now(),
        revoked_reason=ApiKey.RevokedReason.REQUESTED,
    )


def _set_active(key: ApiKey, actor: Actor, *, active: bool, revoked_message: str) -> ApiKey:
    key = _locked(key)
    if key.status == ApiKey.Status.REVOKED:
        raise KeyRevoked(revoked_message)
    privileges.check_act_on(actor, key=key, action="enable" if active else "disable")
    status = ApiKey.Status.ACTIVE if active else ApiKey.Status.INACTIVE
    if key.status == status:
        return key
    return _set_status(key, actor, status, "api_key.enabled" if active else "api_key.disabled")


@privileges.audit_refusals("disable")
@transaction.atomic
def apikey_disable(*, key: ApiKey, actor: Actor) -> ApiKey:
    """Disable a key until it is enabled again; refused for revoked keys and stronger keys."""
    return _set_active(key, actor, active=False, revoked_message=KeyRevoked.default_message)


@privileges.audit_refusals("enable")
@transaction.atomic
def apikey_enable(*, key: ApiKey, actor: Actor) -> ApiKey:
    """Enable a disabled key; refused (409 ``key_revoked``) for revoked keys, 403 for stronger."""
    return _set_active(
        key,
        actor,
        active=True,
        revoked_message="A revoked key cannot be enabled; create a new key instead.",
    )


@privileges.audit_refusals("delete")
@transaction.atomic
def apikey_delete(*, key: ApiKey, actor: Actor) -> ApiKey:
    """Hide a revoked key from lists; its jobs, usage and audit history stay.

    An acting key may delete only keys it dominates (``exceeds_own_privileges``).
    """
    key = _locked(key)
    if key.status != ApiKey.Status.REVOKED:
        raise KeyNotRevoked()
    privileges.check_act_on(actor, key=key, action="delete")
    if key.deleted_at is not None:
        return key
    key.deleted_at = timezone.now()
    key.save(update_fields=["deleted_at"])
    audit_record(actor=actor, action="api_key.deleted", organization=key.organization, target=key)
    return key


@privileges.audit_refusals("rotate")
@transaction.atomic
def apikey_rotate(
    *, key: ApiKey, actor: Actor, grace_period_seconds: int = 0
) -> tuple[ApiKey, str]:
    """Give the key a new secret and return it; the Key ID, settings, usage and jobs stay.

    The old secret stops at once, or after ``grace_period_seconds`` (up to 7 days) so that a
    deployment can switch over without downtime. An acting key may only rotate keys it
    dominates on every axis (``exceeds_own_privileges``), since it receives the secret. A
    key whose expiry breaks the organization's key policy is not renewed
    (``key_policy_violation``): change its expiry first.
    """
    key = _locked(key)
    if key.status == ApiKey.Status.REVOKED:
        raise KeyRevoked("A revoked key cannot be rotated; create a new key instead.")
    # Rotating hands over the new secret: a key may only do that for keys no stronger than it.
    privileges.check_act_on(actor, key=key, action="rotate")
    maximum = settings.APIKEYS_MAX_ROTATION_GRACE_SECONDS
    if (
        isinstance(grace_period_seconds, bool)
        or not isinstance(grace_period_seconds, int)
        or not 0 <= grace_period_seconds <= maximum
    ):
        raise InvalidRequest(
            "Some fields are not valid.",
            fields={"grace_period_seconds": [f"A whole number of seconds from 0 to {maximum}."]},
        )
    now = timezone.now()
    reason = policy.KeyPolicy.of(key.organization).problem(key.expires_at, now)
    if reason is not None:
        reason += " Give the key an expiry within the policy before rotating it."
        raise KeyPolicyViolation(reason, fields={"expires_at": [reason]})
    old_until = now + timedelta(seconds=grace_period_seconds)
    for secret in KeySecret.objects.filter(key=key):
        if secret.expires_at is None or secret.expires_at > old_until:
            secret.expires_at = old_until
            secret.save(update_fields=["expires_at"])
    plaintext = keyformat.generate(key.type)
    store_secret(key, plaintext)
    key.hint = keyformat.hint(plaintext)
    key.rotated_at = now
    key.save(update_fields=["hint", "rotated_at"])
    audit_record(
        actor=actor,
        action="api_key.rotated",
        organization=key.organization,
        target=key,
        metadata={"grace_period_seconds": grace_period_seconds},
    )
    return key, plaintext


def apikey_record_use(*, key: ApiKey, ip: str | None, user_agent: str, now: datetime) -> bool:
    """Record the key's last use, at most once a minute per key across all processes.

    A conditional UPDATE: of many processes serving the same key in the same minute, one
    writes and the others match no row. Return whether this call wrote.
    """
    interval = timedelta(seconds=settings.APIKEYS_LAST_USED_INTERVAL_SECONDS)
    if key.last_used_at is not None and key.last_used_at > now - interval:
        return False
    written = (
        ApiKey.objects.filter(pk=key.pk)
        .filter(Q(last_used_at__isnull=True) | Q(last_used_at__lte=now - interval))
        .update(
            last_used_at=now,
            last_used_ip=ip,
            last_used_user_agent=validation.clean_user_agent(user_agent),
        )
    )
    if written:
        key.last_used_at = now
    return bool(written)
