"""Checks of the settings a key is given, shared by create and update."""

import ipaddress
from datetime import datetime

from django.utils import timezone

from apikeys.keys.models import ApiKey, Permission
from billing.models import ModelPrice
from perceptis.validation import clean_choice, clean_name  # noqa: F401  (re-exported)

MAX_ALLOWLIST_ENTRIES = 100
MAX_ALLOWED_MODELS = 100


def clean_permissions(value) -> list[str]:
    if not isinstance(value, (list, tuple)) or not all(isinstance(p, str) for p in value):
        raise ValueError("Permissions are a list of permission names.")
    unknown = sorted(set(value) - set(Permission.values))
    if unknown:
        raise ValueError(
            f"Unknown permissions: {', '.join(unknown)}. Known: {', '.join(Permission.values)}."
        )
    if not value:
        raise ValueError("A key needs at least one permission.")
    return [p for p in Permission.values if p in value]


def clean_rate_limit(value, plan_limit: int) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("The rate limit is a whole number of requests per minute.")
    if value < 1:
        raise ValueError("The rate limit is at least 1 request per minute.")
    if value > plan_limit:
        raise ValueError(f"The plan allows at most {plan_limit} requests per minute.")
    return value


def clean_expires_at(value: datetime | None, now: datetime | None = None) -> datetime | None:
    if value is None:
        return None
    if timezone.is_naive(value):
        raise ValueError("Give the expiry with a time zone, e.g. 2027-01-01T00:00:00Z.")
    if value <= (now or timezone.now()):
        raise ValueError("The expiry must be in the future.")
    return value


def clean_ip_allowlist(value) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise ValueError("The IP allowlist is a list of addresses or CIDR ranges.")
    if len(value) > MAX_ALLOWLIST_ENTRIES:
        raise ValueError(f"At most {MAX_ALLOWLIST_ENTRIES} entries.")
    out = []
    for entry in value:
        try:
            network = ipaddress.ip_network(entry.strip(), strict=False)
        except ValueError:
            raise ValueError(f"{entry[:60]!r} is not an IP address or CIDR range.") from None
        if str(network) not in out:
            out.append(str(network))
    return out


def clean_allowed_models(value) -> list[str]:
    """Return the model names a key may use, in the price table's order; empty: every model.

    Each name must be a model of the price table (whether the plan may use it is checked per
    job, so a key keeps its list through a change of plan).
    """
    if value is None:
        return []
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise ValueError("Allowed models are a list of model names from GET /api/v1/models.")
    if len(value) > MAX_ALLOWED_MODELS:
        raise ValueError(f"At most {MAX_ALLOWED_MODELS} models.")
    names = {v.strip() for v in value}
    if not names:
        return []
    known = set(ModelPrice.objects.filter(model__in=names).values_list("model", flat=True))
    unknown = sorted(names - known)
    if unknown:
        shown = ", ".join(repr(name[:100]) for name in unknown[:5])
        raise ValueError(f"Not in the price table: {shown}.")
    return sorted(known)


def clean_user_agent(user_agent: str) -> str:
    """Return the client's User-Agent fit to store and display (at most 255 characters)."""
    # The header is client-controlled: PostgreSQL refuses NUL in text, and control characters
    # or lone surrogates have no place in a stored, displayed value.
    cleaned = "".join(
        ch for ch in user_agent[:1024] if ch.isprintable() and not 0xD800 <= ord(ch) <= 0xDFFF
    )
    return cleaned[:255]


TYPE_CHOICES = ApiKey.Type.values
ENVIRONMENT_CHOICES = ApiKey.Environment.values


def clean_rate_limit_in_project(value, plan_limit: int, ceiling: int | None) -> int | None:
    """Return the key's rate limit within the plan's and its project's ceiling.

    No limit of the key's own (None) under a ceiling lower than the plan's becomes the ceiling,
    so a key never runs above its project's ceiling.
    """
    if ceiling is None or ceiling >= plan_limit:
        return clean_rate_limit(value, plan_limit)
    if value is None:
        return ceiling
    value = clean_rate_limit(value, plan_limit)
    if value > ceiling:
        raise ValueError(f"The key's project allows at most {ceiling} requests per minute.")
    return value
