"""Credits (``BILLING_…``)."""

from perceptis.settings.base import env

# The credits bootstrap_demo opens the demo organization with.
BILLING_DEFAULT_DEMO_CREDITS = 1000
# Seconds the price table submissions read stays in the cache; a change in admin drops it.
BILLING_PRICE_TABLE_SECONDS = env.int("BILLING_PRICE_TABLE_SECONDS", default=300)
# Seconds each process keeps the price table it read from the cache: a price change made in
# another process applies to its submissions this much later at most (0: read the cache on
# every submission).
BILLING_PRICE_TABLE_LOCAL_SECONDS = env.float("BILLING_PRICE_TABLE_LOCAL_SECONDS", default=1.0)
