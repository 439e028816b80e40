from django.db import migrations

PLANS = [
    # code, name, api_access, live keys, test keys, requests/minute, monthly credits
    ("free", "Free", False, 0, 0, 60, 0),
    ("starter", "Starter", False, 0, 0, 60, 0),
    ("trial", "Trial", False, 0, 0, 60, 0),
    ("business", "Business", True, 50, 50, 600, 10000),
    ("enterprise", "Enterprise", True, None, None, 3000, 100000),
]


def create_plans(apps, schema_editor):
    Plan = apps.get_model("accounts", "Plan")
    for code, name, api, live, test, rpm, credits in PLANS:
        Plan.objects.update_or_create(
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


class Migration(migrations.Migration):
    dependencies = [("accounts", "0002_initial")]
    operations = [migrations.RunPython(create_plans, migrations.RunPython.noop)]
