"""Create, change, rotate and retire API keys.

Each function takes the ``actor`` who caused the change and writes the audit row in the same
transaction. Refusals are ``DomainError`` subclasses with stable codes.
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.audit import Actor, audit_record
from accounts.models import Organization
from apikeys import keys, privileges, validation
from apikeys.creation_limit import check_creations_today
from apikeys.errors import (
    KeyLimitReached,
    KeyNotRevoked,
    KeyRevoked,
    PlanNotEligible,
)
from apikeys.models import DEFAULT_PERMISSIONS, ApiKey, KeySecret
from perceptis.errors import InvalidRequest
from perceptis.validation import clean_fields


class _Unset:
    def __repr__(self):
        return "UNSET"


UNSET = _Unset()


def _check_key_limit(organization: Organization, key_type: str) -> None:
    plan = organization.plan
    if not plan.api_access:
        raise PlanNotEligible(
            f"The {plan.name} plan has no API access; API keys need a Business or Enterprise plan."
        )
    limit = plan.key_limit(key_type)
    if limit is None:
        return
    used = ApiKey.objects.filter(
        organization=organization,
        type=key_type,
        status__in=[ApiKey.Status.ACTIVE, ApiKey.Status.INACTIVE],
    ).count()
    if used >= limit:
        raise KeyLimitReached(
            f"The {plan.name} plan allows {limit} {key_type} keys and the organization has "
            f"{used}. Revoke a key you no longer use, or move to a larger plan."
        )


def _store_secret(key: ApiKey, plaintext: str) -> None:
    KeySecret.objects.create(key=key, secret_hash=keys.hash_key(plaintext))


@privileges.audit_refusals
@transaction.atomic
def apikey_create(
    *,
    organization: Organization,
    name: str,
    actor: Actor,
    type: str = ApiKey.Type.LIVE,
    environment: str = ApiKey.Environment.PRODUCTION,
    permissions: list[str] | None = None,
    rate_limit_per_minute: int | None = None,
    expires_at: datetime | None = None,
    ip_allowlist: list[str] | None = None,
) -> tuple[ApiKey, str]:
    """Create a key and return it with its plaintext, which is never stored or shown again.

    Refused with ``plan_not_eligible`` on a plan without API access, ``key_limit_reached`` at
    the plan's limit for the type (active and inactive keys count), ``exceeds_own_privileges``
    when an acting key would create a key beyond itself on any axis (audited), and
    ``key_creation_limit_reached`` past the plan's key creations per UTC day.
    """
    # Lock the organization row so two concurrent creations cannot both pass the limit check.
    organization = (
        Organization.objects.select_for_update().select_related("plan").get(pk=organization.pk)
    )
    plan_limit = organization.plan.rate_limit_per_minute
    cleaned = clean_fields(
        {
            "name": lambda: validation.clean_name(name, what="key"),
            "type": lambda: validation.clean_choice(type, validation.TYPE_CHOICES, "Type"),
            "environment": lambda: validation.clean_choice(
                environment, validation.ENVIRONMENT_CHOICES, "Environment"
            ),
            "permissions": lambda: validation.clean_permissions(
                DEFAULT_PERMISSIONS if permissions is None else permissions
            ),
            "rate_limit_per_minute": lambda: validation.clean_rate_limit(
                rate_limit_per_minute, plan_limit
            ),
            "expires_at": lambda: validation.clean_expires_at(expires_at),
            "ip_allowlist": lambda: validation.clean_ip_allowlist(ip_allowlist),
        }
    )
    _check_key_limit(organization, cleaned["type"])
    privileges.check_create(
        actor, organization=organization, values=cleaned, plan_rate_limit=plan_limit
    )
    check_creations_today(organization)
    plaintext = keys.generate(cleaned["type"])
    for _ in range(3):
        try:
            with transaction.atomic():
                key = ApiKey.objects.create(
                    organization=organization,
                    key_id=keys.new_key_id(),
                    hint=keys.hint(plaintext),
                    created_by=actor.user,
                    created_by_key=actor.key,
                    **cleaned,
                )
            break
        except IntegrityError:  # A Key ID collision: 95 bits make it all but impossible.
            continue
    _store_secret(key, plaintext)
    audit_record(
        actor=actor,
        action="api_key.created",
        organization=organization,
        target=key,
        metadata={
            "type": key.type,
            "environment": key.environment,
            "permissions": key.permissions,
            "rate_limit_per_minute": key.rate_limit_per_minute,
            "expires_at": _jsonable(key.expires_at),
            "ip_allowlist": key.ip_allowlist,
        },
    )
    return key, plaintext


def _locked(key: ApiKey) -> ApiKey:
    return ApiKey.objects.select_for_update().select_related("organization__plan").get(pk=key.pk)


@privileges.audit_refusals
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
) -> ApiKey:
    """Change a key's name or settings; only the arguments given change. Revoked keys are final.

    An acting key may change only keys it dominates, and only to settings it dominates
    (``exceeds_own_privileges``, audited).
    """
    key = _locked(key)
    if key.status == ApiKey.Status.REVOKED:
        raise KeyRevoked("A revoked key cannot be changed.")
    plan_limit = key.organization.plan.rate_limit_per_minute
    checks = {
        "name": (name, lambda: validation.clean_name(name, what="key")),
        "permissions": (permissions, lambda: validation.clean_permissions(permissions)),
        "rate_limit_per_minute": (
            rate_limit_per_minute,
            lambda: validation.clean_rate_limit(rate_limit_per_minute, plan_limit),
        ),
        "expires_at": (expires_at, lambda: validation.clean_expires_at(expires_at)),
        "ip_allowlist": (ip_allowlist, lambda: validation.clean_ip_allowlist(ip_allowlist)),
    }
    cleaned = clean_fields({f: check for f, (value, check) in checks.items() if value is not UNSET})
    privileges.check_update(actor, key=key, changes=cleaned, plan_rate_limit=plan_limit)
    changes = {}
    for field, value in cleaned.items():
        old = getattr(key, field)
        if old != value:
            changes[field] = {"from": _jsonable(old), "to": _jsonable(value)}
            setattr(key, field, value)
    if changes:
        key.save(update_fields=list(changes))
        action = "api_key.renamed" if list(changes) == ["name"] else "api_key.updated"
        audit_record(
            actor=actor,
            action=action,
            organization=key.organization,
            target=key,
            metadata={"changes": changes, "axes": [f for f in changes if f in privileges.AXES]},
        )
    return key


def _jsonable(value):
    return value.isoformat() if isinstance(value, datetime) else value


def _set_status(key: ApiKey, actor: Actor, status: str, action: str, **extra) -> ApiKey:
    key.status = status
    for field, value in extra.items():
        setattr(key, field, value)
    key.save(update_fields=["status", *extra])
    audit_record(actor=actor, action=action, organization=key.organization, target=key)
    return key


@privileges.audit_refusals
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
        key, actor, ApiKey.Status.REVOKED, "api_key.revoked", revoked_at=timezone.now()
    )


@privileges.audit_refusals
@transaction.atomic
def apikey_disable(*, key: ApiKey, actor: Actor) -> ApiKey:
    """Disable a key until it is enabled again; refused for revoked keys and stronger keys."""
    key = _locked(key)
    if key.status == ApiKey.Status.REVOKED:
        raise KeyRevoked()
    privileges.check_act_on(actor, key=key, action="disable")
    if key.status == ApiKey.Status.INACTIVE:
        return key
    return _set_status(key, actor, ApiKey.Status.INACTIVE, "api_key.disabled")


@privileges.audit_refusals
@transaction.atomic
def apikey_enable(*, key: ApiKey, actor: Actor) -> ApiKey:
    """Enable a disabled key; refused (409 ``key_revoked``) for revoked keys, 403 for stronger."""
    key = _locked(key)
    if key.status == ApiKey.Status.REVOKED:
        raise KeyRevoked("A revoked key cannot be enabled; create a new key instead.")
    privileges.check_act_on(actor, key=key, action="enable")
    if key.status == ApiKey.Status.ACTIVE:
        return key
    return _set_status(key, actor, ApiKey.Status.ACTIVE, "api_key.enabled")


@privileges.audit_refusals
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


@privileges.audit_refusals
@transaction.atomic
def apikey_rotate(
    *, key: ApiKey, actor: Actor, grace_period_seconds: int = 0
) -> tuple[ApiKey, str]:
    """Give the key a new secret and return it; the Key ID, settings, usage and jobs stay.

    The old secret stops at once, or after ``grace_period_seconds`` (up to 7 days) so that a
    deployment can switch over without downtime. An acting key may only rotate keys it
    dominates on every axis (``exceeds_own_privileges``), since it receives the secret.
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
    old_until = now + timedelta(seconds=grace_period_seconds)
    for secret in KeySecret.objects.filter(key=key):
        if secret.expires_at is None or secret.expires_at > old_until:
            secret.expires_at = old_until
            secret.save(update_fields=["expires_at"])
    plaintext = keys.generate(key.type)
    _store_secret(key, plaintext)
    key.hint = keys.hint(plaintext)
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


def _printable(user_agent: str) -> str:
    # The header is client-controlled: PostgreSQL refuses NUL in text, and control characters
    # or lone surrogates have no place in a stored, displayed value.
    cleaned = "".join(
        ch for ch in user_agent[:1024] if ch.isprintable() and not 0xD800 <= ord(ch) <= 0xDFFF
    )
    return cleaned[:255]


def apikey_record_use(*, key: ApiKey, ip: str | None, user_agent: str, now: datetime) -> bool:
    """Record the key's last use, at most once a minute per key across all processes.

    A conditional UPDATE: of many processes serving the same key in the same minute, one
    writes and the others match no row. Return whether this call wrote.
    """
    interval = timedelta(seconds=settings.APIKEYS_LAST_USED_INTERVAL_SECONDS)
    if key.last_used_at is not None and key.last_used_at > now - interval:
        return False
    from django.db.models import Q

    written = (
        ApiKey.objects.filter(pk=key.pk)
        .filter(Q(last_used_at__isnull=True) | Q(last_used_at__lte=now - interval))
        .update(last_used_at=now, last_used_ip=ip, last_used_user_agent=_printable(user_agent))
    )
    if written:
        key.last_used_at = now
    return bool(written)
