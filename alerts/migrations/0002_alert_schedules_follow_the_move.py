"""The alert schedule names the task's new module (``alerts.tasks``).

Schedules are found by name, whichever module their function lived in.
"""

from django.db import migrations

EVALUATE = "Evaluate alert rules"


def point_to(func: str):
    def update(apps, schema_editor):
        schedule = apps.get_model("django_q", "Schedule")
        schedule.objects.filter(name=EVALUATE).update(func=func)

    return update


class Migration(migrations.Migration):
    dependencies = [
        ("alerts", "0001_alert_models_from_apikeys"),
        ("apikeys", "0009_alert_schedules_on_the_outbound_cluster"),
        ("jobs", "0005_task_paths"),
    ]

    operations = [
        migrations.RunPython(
            point_to("alerts.tasks.evaluate_alerts"),
            point_to("apikeys.alerts.tasks.evaluate_alerts"),
        )
    ]
