"""The plans the platform sells, as data: created by a migration, refreshed by ``plans_ensure``."""

PLANS = [
    # code, name, api_access, live keys, test keys (None: unlimited), requests/minute,
    # monthly credits
    ("free", "Free", False, 0, 0, 60, 0),
    ("starter", "Starter", False, 0, 0, 60, 0),
    ("trial", "Trial", False, 0, 0, 60, 0),
    ("business", "Business", True, 50, 50, 600, 10000),
    ("enterprise", "Enterprise", True, None, None, 3000, 100000),
]

PLAN_CODES = [code for code, *_ in PLANS]


def plans_ensure(plan_model) -> None:
    """Create or update every plan in ``PLANS`` (``plan_model`` may be a migration's model)."""
    for code, name, api, live, test, rpm, credits in PLANS:
        plan_model.objects.update_or_create(
            code=code,
            defaults={
                "name": name,
                "api_access": api,
                "live_key_limit": live,
                "test_key_limit": test,
                "rate_limit_per_minute": rpm,
                "monthly_credits": credits,
            },
        )
