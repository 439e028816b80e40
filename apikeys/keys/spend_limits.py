"""Checks of a key's spend limit, shared by key creation and update.

A key's limit caps the credits its jobs reserve and are charged in a UTC day, a calendar month
or in total; it is enforced when a job is submitted (see ``jobs.services.limits``).
"""

from apikeys.keys.models import ApiKey
from billing.validation import clean_spend_limit

__all__ = ["clean_spend_limit", "clean_spend_period"]


def clean_spend_period(value) -> str:
    if value not in ApiKey.SpendPeriod.values:
        raise ValueError(f"The period is one of: {', '.join(ApiKey.SpendPeriod.values)}.")
    return value
