"""A key never hands out more than it holds.

A key acting through the key-management API may only create, change, rotate, disable, enable,
revoke or delete a key that is at most as powerful as itself on every axis, and may not make
itself more powerful:

================== ====================================================================
axis               allowed for the new or changed key
================== ====================================================================
type               a test key creates and manages only test keys
environment        only the acting key's own
permissions        a subset of the acting key's
ip_allowlist       if the acting key has one, a non-empty allowlist inside its CIDRs
expires_at         if the acting key expires, an expiry no later than its own
rate_limit         no higher than the acting key's effective limit (own or the plan's)
spend_limit        if the acting key has one, one no higher, with the same period
allowed_models     if the acting key has a list, a non-empty list inside it
project            only the acting key's own project
================== ====================================================================

A key may always revoke itself. People (Developer Settings, admin) and operators' commands act
as themselves and are not bound by this rule: every check here passes when ``actor.key`` is
``None``. A refusal is ``403 exceeds_own_privileges`` with ``fields`` naming each failing axis,
and is audited by the refusing service although the change it refused is rolled back (see
``audit_refusals``).
"""

import functools
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from accounts.audit import Actor, audit_record
from apikeys.keys.errors import ExceedsOwnPrivileges
from apikeys.keys.models import ApiKey

# The names clients see in the refusal's ``fields``, in the table's order.
AXES = (
    "type",
    "environment",
    "permissions",
    "ip_allowlist",
    "expires_at",
    "rate_limit_per_minute",
    "spend_limit",
    "allowed_models",
    "project",
)


@dataclass(frozen=True)
class KeySettings:
    """What a key can do, reduced to the axes the rule compares."""

    type: str
    environment: str
    permissions: frozenset[str]
    ip_allowlist: tuple[str, ...]
    expires_at: datetime | None
    rate_limit: int  # effective requests per minute: the key's own, or the plan's when null
    spend_limit_credits: int | None = None
    spend_limit_period: str | None = None
    allowed_models: tuple[str, ...] = ()  # empty: every model the plan allows

    @classmethod
    def from_values(cls, values: Mapping, *, plan_rate_limit: int) -> "KeySettings":
        """Return the settings named in ``values`` (a key's fields, e.g. a service's cleaned)."""
        own = values.get("rate_limit_per_minute")
        return cls(
            type=values["type"],
            environment=values["environment"],
            permissions=frozenset(values["permissions"]),
            ip_allowlist=tuple(values.get("ip_allowlist") or ()),
            expires_at=values.get("expires_at"),
            rate_limit=plan_rate_limit if own is None else min(own, plan_rate_limit),
            spend_limit_credits=values.get("spend_limit_credits"),
            spend_limit_period=values.get("spend_limit_period"),
            allowed_models=tuple(values.get("allowed_models") or ()),
        )

    @classmethod
    def of_key(cls, key: ApiKey, *, plan_rate_limit: int, **changes) -> "KeySettings":
        """Return ``key``'s settings, with ``changes`` (field: new value) applied."""
        values = {
            "type": key.type,
            "environment": key.environment,
            "permissions": key.permissions,
            "ip_allowlist": key.ip_allowlist,
            "expires_at": key.expires_at,
            "rate_limit_per_minute": key.rate_limit_per_minute,
            "spend_limit_credits": key.spend_limit_credits,
            "spend_limit_period": key.spend_limit_period,
            "allowed_models": key.allowed_models,
        }
        values.update(changes)
        return cls.from_values(values, plan_rate_limit=plan_rate_limit)


def _networks(cidrs):
    return [ipaddress.ip_network(cidr, strict=False) for cidr in cidrs]


def _inside(inner: tuple[str, ...], outer: tuple[str, ...]) -> bool:
    """Return whether every CIDR of ``inner`` is a subnet of some CIDR of ``outer``."""
    outer_networks = _networks(outer)
    return all(
        any(net.version == out.version and net.subnet_of(out) for out in outer_networks)
        for net in _networks(inner)
    )


def models_exceeded(acting: KeySettings, other: KeySettings) -> str | None:
    """Return why ``other`` may use models ``acting`` may not, or None.

    An empty list means every model the plan allows, so under a key with a list only a
    non-empty list inside it is no wider.
    """
    if not acting.allowed_models:
        return None
    outside = sorted(set(other.allowed_models) - set(acting.allowed_models))
    if other.allowed_models and not outside:
        return None
    if outside:
        return f"Models this key may not use: {', '.join(outside)}."
    return (
        f"The key must be limited to models this key may use: {', '.join(acting.allowed_models)}."
    )


def exceeded(acting: KeySettings, other: KeySettings) -> dict[str, str]:
    """Return ``{axis: reason}`` for each axis on which ``other`` is beyond ``acting``.

    Empty when ``acting`` dominates ``other``. A pure function of the two settings; the keys
    are in the order of ``AXES``.
    """
    out = {}
    if acting.type == ApiKey.Type.TEST and other.type != ApiKey.Type.TEST:
        out["type"] = "A test key creates and manages only test keys."
    if other.environment != acting.environment:
        out["environment"] = f"This key manages only {acting.environment} keys."
    missing = sorted(other.permissions - acting.permissions)
    if missing:
        out["permissions"] = f"Permissions this key does not hold: {', '.join(missing)}."
    if acting.ip_allowlist and not (
        other.ip_allowlist and _inside(other.ip_allowlist, acting.ip_allowlist)
    ):
        out["ip_allowlist"] = (
            "The IP allowlist must be non-empty and inside this key's: "
            f"{', '.join(acting.ip_allowlist)}."
        )
    if acting.expires_at is not None and (
        other.expires_at is None or other.expires_at > acting.expires_at
    ):
        out["expires_at"] = (
            f"The key must expire no later than this key does ({acting.expires_at.isoformat()})."
        )
    if other.rate_limit > acting.rate_limit:
        out["rate_limit_per_minute"] = (
            f"At most {acting.rate_limit} requests per minute, this key's own limit."
        )
    if acting.spend_limit_credits is not None and (
        other.spend_limit_credits is None
        or other.spend_limit_credits > acting.spend_limit_credits
        or other.spend_limit_period != acting.spend_limit_period
    ):
        out["spend_limit"] = (
            f"A spend limit of at most {acting.spend_limit_credits} credits per "
            f"{acting.spend_limit_period}, as this key has."
        )
    models_reason = models_exceeded(acting, other)
    if models_reason is not None:
        out["allowed_models"] = models_reason
    return out


def project_exceeded(acting_project_id: str, other_project_id: str) -> dict[str, str]:
    """Return ``{"project": reason}`` when a key of ``acting_project_id`` reaches another
    project (creating a key there, moving a key there or from there, acting on its key).

    The project is one more axis of the rule, kept apart from ``KeySettings``: a key's project
    is where it lives, not a power it holds, so it is compared for equality only.
    """
    if other_project_id != acting_project_id:
        return {"project": f"This key manages only keys of its own project ({acting_project_id})."}
    return {}


def _project_id(value) -> str | None:
    # A project instance, its public id, or None (the service chose the default).
    return getattr(value, "project_id", value)


def check_project(actor: Actor, *, project_id: str) -> None:
    """Refuse an acting key naming a project other than its own (before it is looked up)."""
    if actor.key is None:
        return
    _refuse(
        project_exceeded(actor.key.project_id, project_id),
        "This API key cannot reach another project",
    )


def _refuse(reasons: dict, message: str) -> None:
    if reasons:
        fields = {axis: [reasons[axis]] for axis in AXES if axis in reasons}
        raise ExceedsOwnPrivileges(f"{message}: {', '.join(fields)}.", fields=fields)


def check_create(actor: Actor, *, values: Mapping, plan_rate_limit: int) -> None:
    """Refuse when an acting key would create a key beyond itself; ``values`` are cleaned."""
    if actor.key is None:
        return
    acting = KeySettings.of_key(actor.key, plan_rate_limit=plan_rate_limit)
    proposed = KeySettings.from_values(values, plan_rate_limit=plan_rate_limit)
    reasons = exceeded(acting, proposed)
    if "project" in values:
        reasons.update(project_exceeded(actor.key.project_id, _project_id(values["project"])))
    _refuse(reasons, "This API key cannot create a key more powerful than itself")


def check_update(actor: Actor, *, key: ApiKey, changes: Mapping, plan_rate_limit: int) -> None:
    """Refuse when an acting key changes a key stronger than itself or makes one stronger.

    ``key`` is the locked target; ``changes`` the cleaned new values. On itself a key compares
    with its own current row, so it can lower its restrictions' reach but never lift them.
    """
    if actor.key is None:
        return
    acting_key = key if key.pk == actor.key.pk else actor.key
    acting = KeySettings.of_key(acting_key, plan_rate_limit=plan_rate_limit)
    settings_changes = {f: v for f, v in changes.items() if f != "project"}
    reasons = {
        **exceeded(
            acting, KeySettings.of_key(key, plan_rate_limit=plan_rate_limit, **settings_changes)
        ),
        **exceeded(acting, KeySettings.of_key(key, plan_rate_limit=plan_rate_limit)),
        **project_exceeded(acting_key.project_id, key.project_id),
    }
    if "project" in changes:
        reasons.update(project_exceeded(acting_key.project_id, _project_id(changes["project"])))
    _refuse(
        reasons,
        "This API key cannot change a key to or from more than it holds itself",
    )


def check_act_on(actor: Actor, *, key: ApiKey, action: str) -> None:
    """Refuse when an acting key rotates, disables, enables, revokes or deletes a stronger key.

    ``key`` is the locked target, with its organization and plan. A key may always revoke
    itself.
    """
    if actor.key is None or (action == "revoke" and key.pk == actor.key.pk):
        return
    plan_rate_limit = key.organization.plan.rate_limit_per_minute
    acting_key = key if key.pk == actor.key.pk else actor.key
    _refuse(
        {
            **exceeded(
                KeySettings.of_key(acting_key, plan_rate_limit=plan_rate_limit),
                KeySettings.of_key(key, plan_rate_limit=plan_rate_limit),
            ),
            **project_exceeded(acting_key.project_id, key.project_id),
        },
        f"This API key cannot {action} a key that holds more than it does",
    )


def audit_refusals(action: str):
    """Make a key service that performs ``action`` audit its privilege refusals.

    The service names the acting key (``actor``) and the target (``key``, or ``organization``
    for a key it would create). A refusal rolls its transaction back, so the service writes the
    refusal's audit row after it, in its own transaction (or the caller's, when the caller
    holds one open), and raises it on.
    """

    def decorate(service):
        @functools.wraps(service)
        def audited(*, actor: Actor, **arguments):
            try:
                return service(actor=actor, **arguments)
            except ExceedsOwnPrivileges as refused:
                target = arguments.get("key")
                audit_record(
                    actor=actor,
                    action="api_key.privileges_exceeded",
                    organization=target.organization if target else arguments["organization"],
                    target=target,
                    target_label="" if target is not None else "(new key)",
                    metadata={"attempted": action, "fields": list(refused.fields)},
                )
                raise

        return audited

    return decorate
