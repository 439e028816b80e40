from django.db import migrations

from perceptis.schedules import schedules_ensure, schedules_remove

SCHEDULES = [
    # name, function, minutes between runs
    ("Roll up costs by key, model and hour", "jobs.tasks.roll_up_costs", 1),
]


def create_schedules(apps, schema_editor):
    schedules_ensure(apps.get_model("django_q", "Schedule"), SCHEDULES)


def remove_schedules(apps, schema_editor):
    schedules_remove(apps.get_model("django_q", "Schedule"), SCHEDULES)


class Migration(migrations.Migration):
    dependencies = [("jobs", "0010_costs_rollup")]
    operations = [migrations.RunPython(create_schedules, remove_schedules)]
