"""Every change to people, organizations and plans."""

from django.db import transaction
from django.utils.text import slugify

from accounts.audit import Actor, audit_record
from accounts.errors import PlanNotFound, TwoFactorNotSetUp
from accounts.models import Organization, Plan, User
from accounts.projects.services import project_create_default
from perceptis.errors import InvalidRequest
from perceptis.validation import clean_name


def _unique_slug(name: str) -> str:
    base = slugify(name)[:50] or "org"
    slug, n = base, 1
    while Organization.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug


def plan_get(code: str) -> Plan:
    try:
        return Plan.objects.get(code=code)
    except Plan.DoesNotExist:
        raise PlanNotFound(f"No plan named {code!r}.") from None


@transaction.atomic
def organization_create(*, name: str, plan_code: str, actor: Actor) -> Organization:
    """Create an organization on a plan, with no credits, and its Default project.

    ``billing.services.organization_open`` is what operators and the demo call: it creates the
    organization through here and gives it its opening balance.
    """
    if not isinstance(name, str) or not name.strip():
        raise InvalidRequest("The organization needs a name.")
    try:
        name = clean_name(name, what="organization", max_length=200)
    except ValueError as exc:
        raise InvalidRequest(str(exc)) from None
    plan = plan_get(plan_code)
    org = Organization.objects.create(name=name[:200], slug=_unique_slug(name), plan=plan)
    project_create_default(organization=org)
    audit_record(actor=actor, action="organization.created", organization=org, target=org)
    return org


@transaction.atomic
def organization_set_plan(*, organization: Organization, plan_code: str, actor: Actor) -> Plan:
    """Move the organization to another plan; API eligibility changes on the next request."""
    plan = plan_get(plan_code)
    old = organization.plan
    organization.plan = plan
    organization.save(update_fields=["plan"])  # post_save: cached key records go stale
    audit_record(
        actor=actor,
        action="organization.plan_changed",
        organization=organization,
        target=organization,
        metadata={"from": old.code, "to": plan.code},
    )
    return plan


@transaction.atomic
def user_create(
    *,
    email: str,
    password: str,
    actor: Actor,
    is_staff: bool = False,
    group_names: list[str] | tuple = (),
) -> User:
    """Create a user, a member of no organization.

    ``accounts.members.services.membership_create`` makes them a member; an invitation makes
    its new account a member itself.
    """
    from django.contrib.auth.models import Group
    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError
    from django.core.validators import validate_email

    email = (email or "").strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        raise InvalidRequest(f"{email!r} is not a valid email address.") from None
    if User.objects.filter(email=email).exists():
        raise InvalidRequest(f"A user with the email {email} already exists.")
    user = User(email=email, is_staff=is_staff)
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise InvalidRequest(" ".join(exc.messages)) from None
    groups = []
    for group_name in group_names:
        try:
            groups.append(Group.objects.get(name=group_name))
        except Group.DoesNotExist:
            raise InvalidRequest(f"No group named {group_name!r}.") from None
    user.set_password(password)
    user.save()
    if groups:
        user.groups.set(groups)
    audit_record(
        actor=actor, action="user.created", organization=None, target=user, target_label=email
    )
    return user


@transaction.atomic
def organization_set_two_factor_required(
    *, organization: Organization, required: bool, actor: Actor, actor_has_two_factor: bool
) -> None:
    """Require (or stop requiring) two-factor of every member of the organization.

    The owner who turns it on must have it already, so that nobody locks themselves out.
    """
    if required and not actor_has_two_factor:
        raise TwoFactorNotSetUp()
    Organization.objects.filter(pk=organization.pk).update(require_two_factor=required)
    organization.require_two_factor = required
    audit_record(
        actor=actor,
        action="organization.two_factor_required"
        if required
        else "organization.two_factor_optional",
        organization=organization,
        target=organization,
    )


KEY_LIFETIME_RANGE = (1, 366)


@transaction.atomic
def organization_set_key_policy(
    *,
    organization: Organization,
    max_lifetime_days: int | None,
    expiry_required: bool,
    actor: Actor,
) -> Organization:
    """Set the organization's key policy: the longest a new key may live (1-366 days, or None
    for no maximum) and whether every new key must expire (a maximum implies it).

    Keys made before keep working; creating, rotating or changing a key's expiry against the
    policy is refused from now on. Audited (``organization.key_policy_changed``) when it changes.
    """
    low, high = KEY_LIFETIME_RANGE
    if max_lifetime_days is not None and (
        isinstance(max_lifetime_days, bool)
        or not isinstance(max_lifetime_days, int)
        or not low <= max_lifetime_days <= high
    ):
        raise InvalidRequest(
            "Some fields are not valid.",
            fields={"key_max_lifetime_days": [f"A whole number of days from {low} to {high}."]},
        )
    if not isinstance(expiry_required, bool):
        raise InvalidRequest(
            "Some fields are not valid.", fields={"key_expiry_required": ["True or false."]}
        )
    organization = Organization.objects.select_for_update().get(pk=organization.pk)
    before = {
        "max_lifetime_days": organization.key_max_lifetime_days,
        "expiry_required": organization.key_expiry_required,
    }
    after = {"max_lifetime_days": max_lifetime_days, "expiry_required": expiry_required}
    if before != after:
        organization.key_max_lifetime_days = max_lifetime_days
        organization.key_expiry_required = expiry_required
        organization.save(update_fields=["key_max_lifetime_days", "key_expiry_required"])
        audit_record(
            actor=actor,
            action="organization.key_policy_changed",
            organization=organization,
            target=organization,
            metadata={"from": before, "to": after},
        )
    return organization
