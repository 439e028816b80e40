"""Job webhooks (``WEBHOOKS_…``): endpoints, retries, deadlines, secrets and retention."""

from perceptis.settings.base import env

# Webhook endpoints per organization.
WEBHOOKS_MAX_ENDPOINTS = env.int("WEBHOOKS_MAX_ENDPOINTS", default=20)
# Seconds to wait after each failed attempt of a delivery: the Standard Webhooks (Svix)
# schedule, about 28 hours in all; the delivery fails after the last one.
WEBHOOKS_RETRY_SCHEDULE_SECONDS = [
    int(s)
    for s in env.list(
        "WEBHOOKS_RETRY_SCHEDULE_SECONDS", default=[5, 300, 1800, 7200, 18000, 36000, 36000]
    )
]
# The wall-clock deadline of one delivery attempt, body included.
WEBHOOKS_DEADLINE_SECONDS = env.float("WEBHOOKS_DEADLINE_SECONDS", default=10.0)
# Off only for development receivers on http://.
WEBHOOKS_REQUIRE_HTTPS = env.bool("WEBHOOKS_REQUIRE_HTTPS", default=True)
# How long a rotated-out signing secret still signs, beside the new one.
WEBHOOKS_PREVIOUS_SECRET_HOURS = env.int("WEBHOOKS_PREVIOUS_SECRET_HOURS", default=24)
# Finished deliveries are purged past this age (0 keeps them).
WEBHOOKS_RETENTION_DAYS = env.int("WEBHOOKS_RETENTION_DAYS", default=30)
# How often `manage.py dispatch_outbound` looks for due webhook and alert deliveries.
WEBHOOKS_DISPATCH_SECONDS = env.float("WEBHOOKS_DISPATCH_SECONDS", default=1.0)
