"""Checks of a key's spend limit, shared by key creation and update.

A key's limit caps the credits its jobs reserve and are charged in a UTC day, a calendar month
or in total; it is enforced when a job is submitted (see ``jobs.services.limits``).
"""

from apikeys.keys.models import ApiKey

MAX_SPEND_LIMIT = 10**12


def clean_spend_limit(value) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("The spend limit is a whole number of credits, or null for none.")
    if not 0 <= value <= MAX_SPEND_LIMIT:
        raise ValueError(f"The spend limit is from 0 to {MAX_SPEND_LIMIT} credits.")
    return value


def clean_spend_period(value) -> str:
    if value not in ApiKey.SpendPeriod.values:
        raise ValueError(f"The period is one of: {', '.join(ApiKey.SpendPeriod.values)}.")
    return value
