"""Checks of credit amounts that more than one app takes from people and keys."""

# The largest spend limit accepted, for keys and organizations alike.
MAX_SPEND_LIMIT = 10**12


def clean_spend_limit(value) -> int | None:
    """Return a spend limit (whole credits from 0, or None for none); raise ``ValueError``."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("The spend limit is a whole number of credits, or null for none.")
    if not 0 <= value <= MAX_SPEND_LIMIT:
        raise ValueError(f"The spend limit is from 0 to {MAX_SPEND_LIMIT} credits.")
    return value
