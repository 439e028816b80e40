from django.db import migrations

from accounts.plans import plans_ensure


def create_plans(apps, schema_editor):
    plans_ensure(apps.get_model("accounts", "Plan"))


class Migration(migrations.Migration):
    dependencies = [("accounts", "0002_initial")]
    operations = [migrations.RunPython(create_plans, migrations.RunPython.noop)]
