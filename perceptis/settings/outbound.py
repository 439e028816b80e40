"""Requests to URLs customers give us (``perceptis.outbound``): where they may go."""

from perceptis.settings.apikeys import APIKEYS_ALERT_ALLOW_PRIVATE_URLS
from perceptis.settings.base import env

# Let webhooks and Slack reach private, loopback and other non-public addresses (development
# only); APIKEYS_ALERT_ALLOW_PRIVATE_URLS is its older name.
OUTBOUND_ALLOW_PRIVATE_ADDRESSES = env.bool(
    "OUTBOUND_ALLOW_PRIVATE_ADDRESSES", default=APIKEYS_ALERT_ALLOW_PRIVATE_URLS
)
# The only ports an outbound request may use, so it cannot probe other services.
OUTBOUND_ALLOWED_PORTS = [int(p) for p in env.list("OUTBOUND_ALLOWED_PORTS", default=["80", "443"])]
