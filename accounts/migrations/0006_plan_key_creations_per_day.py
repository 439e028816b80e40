from django.db import migrations, models

from accounts.plans import plans_ensure


def seed_plans(apps, schema_editor):
    plans_ensure(apps.get_model("accounts", "Plan"))


class Migration(migrations.Migration):
    dependencies = [("accounts", "0005_plan_job_and_test_caps")]
    operations = [
        migrations.AddField(
            model_name="plan",
            name="key_creations_per_day",
            field=models.PositiveIntegerField(blank=True, default=0, null=True),
        ),
        migrations.RunPython(seed_plans, migrations.RunPython.noop),
    ]
