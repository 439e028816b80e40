"""The plans the platform sells, as data: created by a migration, refreshed by ``plans_ensure``."""

PLANS = [
    # code, name, api_access, live keys, test keys (None: unlimited), requests/minute,
    # monthly credits, jobs in flight (queued + running), test-key requests per UTC day, key
    # creations per organization per UTC day, open projects (the Default one included)
    ("free", "Free", False, 0, 0, 60, 0, 0, 0, 0, 1),
    ("starter", "Starter", False, 0, 0, 60, 0, 0, 0, 0, 1),
    ("trial", "Trial", False, 0, 0, 60, 0, 0, 0, 0, 1),
    ("business", "Business", True, 50, 50, 600, 10000, 20, 1000, 100, 10),
    ("enterprise", "Enterprise", True, None, None, 3000, 100000, 200, 10000, 1000, None),
]

PLAN_CODES = [code for code, *_ in PLANS]


def plans_ensure(plan_model) -> None:
    """Create or update every plan in ``PLANS`` (``plan_model`` may be a migration's model).

    A migration's historical model may predate some columns; only the ones it has are set.
    """
    columns = {field.name for field in plan_model._meta.get_fields()}
    for row in PLANS:
        code, name, api, live, test, rpm, credits, in_flight, test_daily, creations, projects = row
        defaults = {
            "name": name,
            "api_access": api,
            "live_key_limit": live,
            "test_key_limit": test,
            "rate_limit_per_minute": rpm,
            "monthly_credits": credits,
            "max_jobs_in_flight": in_flight,
            "test_daily_quota": test_daily,
            "key_creations_per_day": creations,
            "project_limit": projects,
        }
        plan_model.objects.update_or_create(
            code=code, defaults={k: v for k, v in defaults.items() if k in columns}
        )
