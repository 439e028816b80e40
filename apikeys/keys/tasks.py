"""The worker's recurring key tasks (schedules made by the apikeys migrations)."""

from apikeys.keys.services.expiry import apikey_expiry_warnings_send


def warn_expiring_keys() -> int:
    """Send the expiry warnings due now (7 days and 1 day ahead); return how many were sent."""
    return apikey_expiry_warnings_send()
