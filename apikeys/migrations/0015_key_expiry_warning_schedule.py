from django.db import migrations

from perceptis.schedules import schedules_ensure, schedules_remove

SCHEDULES = [
    # name, function, minutes between runs
    ("Warn of expiring keys", "apikeys.keys.tasks.warn_expiring_keys", 15),
]


def create_schedules(apps, schema_editor):
    schedules_ensure(apps.get_model("django_q", "Schedule"), SCHEDULES)


def remove_schedules(apps, schema_editor):
    schedules_remove(apps.get_model("django_q", "Schedule"), SCHEDULES)


class Migration(migrations.Migration):
    dependencies = [
        ("apikeys", "0014_key_exposure_and_expiry_warnings"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]
    operations = [migrations.RunPython(create_schedules, remove_schedules)]
