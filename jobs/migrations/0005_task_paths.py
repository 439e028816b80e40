"""Point the alert and retention schedules at their tasks' new modules.

The tasks moved with the code (``apikeys.alerts.tasks``; the purge, which reaches into usage and
jobs, to ``jobs.tasks``). Schedules keep their names, so only the function path changes.
"""

from django.db import migrations

from perceptis.schedules import schedules_ensure

NEW = [
    ("Evaluate alert rules", "apikeys.alerts.tasks.evaluate_alerts", 1),
    ("Deliver due alerts", "apikeys.alerts.tasks.deliver_alerts", 1),
    ("Purge old usage, request logs and jobs", "jobs.tasks.purge_old_data", 60),
]
OLD = [
    ("Evaluate alert rules", "apikeys.tasks.evaluate_alerts", 1),
    ("Deliver due alerts", "apikeys.tasks.deliver_alerts", 1),
    ("Purge old usage, request logs and jobs", "apikeys.tasks.purge_old_data", 60),
]


def forwards(apps, schema_editor):
    schedules_ensure(apps.get_model("django_q", "Schedule"), NEW)


def backwards(apps, schema_editor):
    schedules_ensure(apps.get_model("django_q", "Schedule"), OLD)


class Migration(migrations.Migration):
    dependencies = [
        ("apikeys", "0003_alerts_payload_and_schedules"),
        ("jobs", "0004_job_model_and_usage"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
