from django.db import migrations, models

from perceptis.schedules import schedules_ensure, schedules_remove

SCHEDULES = [
    # name, function, minutes between runs
    ("Evaluate alert rules", "apikeys.tasks.evaluate_alerts", 1),
    ("Deliver due alerts", "apikeys.tasks.deliver_alerts", 1),
    ("Purge old usage, request logs and jobs", "apikeys.tasks.purge_old_data", 60),
]


def create_schedules(apps, schema_editor):
    schedules_ensure(apps.get_model("django_q", "Schedule"), SCHEDULES)


def remove_schedules(apps, schema_editor):
    schedules_remove(apps.get_model("django_q", "Schedule"), SCHEDULES)


class Migration(migrations.Migration):
    dependencies = [
        ("apikeys", "0002_usage_and_alerts"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [
        migrations.AddField(
            model_name="alertdelivery",
            name="payload",
            field=models.JSONField(blank=True, default=dict),
        ),
        migrations.RunPython(create_schedules, remove_schedules),
    ]
