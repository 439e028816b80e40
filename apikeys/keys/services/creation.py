"""Create API keys: the plan's limits, the privilege rule, the daily creation cap."""

from datetime import datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.audit import Actor, audit_record
from accounts.models import Organization
from apikeys.keys import keyformat, policy, privileges, spend_limits, validation
from apikeys.keys.creation_limit import check_creations_today
from apikeys.keys.errors import (
    KeyLimitReached,
    PlanNotEligible,
)
from apikeys.keys.models import DEFAULT_PERMISSIONS, ApiKey, KeySecret
from apikeys.keys.projects import key_project
from apikeys.keys.selectors import apikey_counts_by_type
from perceptis.validation import clean_fields


def _check_key_limit(organization: Organization, key_type: str) -> None:
    plan = organization.plan
    if not plan.api_access:
        raise PlanNotEligible(
            f"The {plan.name} plan has no API access; API keys need a Business or Enterprise plan."
        )
    limit = plan.key_limit(key_type)
    if limit is None:
        return
    used = apikey_counts_by_type(organization=organization).get(key_type, 0)
    if used >= limit:
        raise KeyLimitReached(
            f"The {plan.name} plan allows {limit} {key_type} keys and the organization has "
            f"{used}. Revoke a key you no longer use, or move to a larger plan."
        )


def store_secret(key: ApiKey, plaintext: str) -> None:
    KeySecret.objects.create(
        key=key, secret_hash=keyformat.hash_key(plaintext), pepper_id=settings.API_KEY_PEPPER_ID
    )


@privileges.audit_refusals("create")
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
    spend_limit_credits: int | None = None,
    spend_limit_period: str = ApiKey.SpendPeriod.MONTH,
    project=None,
    allowed_models: list[str] | None = None,
) -> tuple[ApiKey, str]:
    """Create a key and return it with its plaintext, which is never stored or shown again.

    Refused with ``plan_not_eligible`` on a plan without API access, ``key_limit_reached`` at
    the plan's limit for the type (active and inactive keys count), ``exceeds_own_privileges``
    when an acting key would create a key beyond itself on any axis (audited), and
    ``key_creation_limit_reached`` past the plan's key creations per UTC day, and
    ``key_policy_violation`` for an expiry the organization's key policy does not allow.

    ``project`` (a public id or a ``Project``; None: the acting key's project, or the
    organization's Default one) must be an open project of the organization; an acting key
    names only its own (``exceeds_own_privileges`` on ``project``). The key's rate limit stays
    within the project's ceiling.

    ``allowed_models`` limits the key's jobs to those models of the price table (None or
    empty: every model the plan allows).
    """
    # Lock the organization row so two concurrent creations cannot both pass the limit check.
    organization = (
        Organization.objects.select_for_update().select_related("plan").get(pk=organization.pk)
    )
    plan_limit = organization.plan.rate_limit_per_minute
    target = clean_fields(
        {"project": lambda: key_project(organization=organization, project=project, actor=actor)}
    )["project"]
    cleaned = clean_fields(
        {
            "project": lambda: target,
            "name": lambda: validation.clean_name(name, what="key"),
            "type": lambda: validation.clean_choice(type, validation.TYPE_CHOICES, "Type"),
            "environment": lambda: validation.clean_choice(
                environment, validation.ENVIRONMENT_CHOICES, "Environment"
            ),
            "permissions": lambda: validation.clean_permissions(
                DEFAULT_PERMISSIONS if permissions is None else permissions
            ),
            "rate_limit_per_minute": lambda: validation.clean_rate_limit_in_project(
                rate_limit_per_minute, plan_limit, target.rate_limit_ceiling
            ),
            "expires_at": lambda: validation.clean_expires_at(expires_at),
            "ip_allowlist": lambda: validation.clean_ip_allowlist(ip_allowlist),
            "spend_limit_credits": lambda: spend_limits.clean_spend_limit(spend_limit_credits),
            "spend_limit_period": lambda: spend_limits.clean_spend_period(spend_limit_period),
            "allowed_models": lambda: validation.clean_allowed_models(allowed_models),
        }
    )
    policy.check(organization, expires_at=cleaned["expires_at"], now=timezone.now())
    _check_key_limit(organization, cleaned["type"])
    privileges.check_create(actor, values=cleaned, plan_rate_limit=plan_limit)
    check_creations_today(organization)
    plaintext = keyformat.generate(cleaned["type"])
    for _ in range(3):
        try:
            with transaction.atomic():
                key = ApiKey.objects.create(
                    organization=organization,
                    key_id=keyformat.new_key_id(),
                    hint=keyformat.hint(plaintext),
                    created_by=actor.user,
                    created_by_key=actor.key,
                    **cleaned,
                )
            break
        except IntegrityError:  # A Key ID collision: 95 bits make it all but impossible.
            continue
    store_secret(key, plaintext)
    audit_record(
        actor=actor,
        action="api_key.created",
        organization=organization,
        target=key,
        metadata={
            "project": key.project_id,
            "type": key.type,
            "environment": key.environment,
            "permissions": key.permissions,
            "rate_limit_per_minute": key.rate_limit_per_minute,
            "expires_at": jsonable(key.expires_at),
            "ip_allowlist": key.ip_allowlist,
            "allowed_models": key.allowed_models,
        },
    )
    return key, plaintext


def jsonable(value):
    return value.isoformat() if isinstance(value, datetime) else value
