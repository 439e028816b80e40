from django.db import migrations, models

from accounts.plans import plans_ensure


def set_caps(apps, schema_editor):
    plans_ensure(apps.get_model("accounts", "Plan"))


class Migration(migrations.Migration):
    dependencies = [("accounts", "0004_support_group")]
    operations = [
        migrations.AddField(
            model_name="plan",
            name="max_jobs_in_flight",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="plan",
            name="test_daily_quota",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.RunPython(set_caps, migrations.RunPython.noop),
    ]
