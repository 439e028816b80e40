"""Credits (``BILLING_…``)."""

# The credits bootstrap_demo opens the demo organization with.
BILLING_DEFAULT_DEMO_CREDITS = 1000
