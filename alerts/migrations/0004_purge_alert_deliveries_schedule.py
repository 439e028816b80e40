"""Purge finished alert deliveries hourly, past the retention age job webhooks keep theirs, on
the outbound cluster with the other alert schedules."""

from django.db import migrations

from perceptis.queues import OUTBOUND_CLUSTER
from perceptis.schedules import schedules_ensure, schedules_remove

SCHEDULES = [("Purge old alert deliveries", "alerts.tasks.purge_alert_deliveries", 60)]


def forwards(apps, schema_editor):
    schedule = apps.get_model("django_q", "Schedule")
    schedules_ensure(schedule, SCHEDULES)
    schedule.objects.filter(name=SCHEDULES[0][0]).update(cluster=OUTBOUND_CLUSTER)


def backwards(apps, schema_editor):
    schedules_remove(apps.get_model("django_q", "Schedule"), SCHEDULES)


class Migration(migrations.Migration):
    dependencies = [
        ("alerts", "0003_alert_deliveries_share_the_outbox_state"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
