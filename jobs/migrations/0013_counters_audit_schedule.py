from django.db import migrations

from perceptis.schedules import schedules_ensure, schedules_remove

SCHEDULES = [
    # name, function, minutes between runs
    ("Recount the counters submissions are admitted on", "jobs.tasks.audit_counters", 24 * 60),
]


def create_schedules(apps, schema_editor):
    schedules_ensure(apps.get_model("django_q", "Schedule"), SCHEDULES)


def remove_schedules(apps, schema_editor):
    schedules_remove(apps.get_model("django_q", "Schedule"), SCHEDULES)


class Migration(migrations.Migration):
    dependencies = [("jobs", "0012_lean_indexes")]
    operations = [migrations.RunPython(create_schedules, remove_schedules)]
