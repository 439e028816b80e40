"""The sweep that sends due webhook deliveries, every minute on the outbound cluster."""

from django.db import migrations

from perceptis.queues import OUTBOUND_CLUSTER
from perceptis.schedules import schedules_ensure, schedules_remove

SCHEDULES = [("Deliver due webhooks", "webhooks.tasks.deliver_due_webhooks", 1)]


def forwards(apps, schema_editor):
    schedule = apps.get_model("django_q", "Schedule")
    schedules_ensure(schedule, SCHEDULES)
    schedule.objects.filter(name__in=[name for name, _, _ in SCHEDULES]).update(
        cluster=OUTBOUND_CLUSTER
    )


def backwards(apps, schema_editor):
    schedules_remove(apps.get_model("django_q", "Schedule"), SCHEDULES)


class Migration(migrations.Migration):
    dependencies = [
        ("webhooks", "0001_initial"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
