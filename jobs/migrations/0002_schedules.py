from django.db import migrations

from perceptis.schedules import schedules_ensure, schedules_remove

SCHEDULES = [
    # name, function, minutes between runs
    ("Reconcile stranded jobs", "jobs.tasks.reconcile_jobs", 1),
    ("Grant plan credits for the month", "billing.tasks.grant_plan_credits", 60),
]


def create_schedules(apps, schema_editor):
    schedules_ensure(apps.get_model("django_q", "Schedule"), SCHEDULES)


def remove_schedules(apps, schema_editor):
    schedules_remove(apps.get_model("django_q", "Schedule"), SCHEDULES)


class Migration(migrations.Migration):
    dependencies = [("jobs", "0001_initial"), ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more")]
    operations = [migrations.RunPython(create_schedules, remove_schedules)]
