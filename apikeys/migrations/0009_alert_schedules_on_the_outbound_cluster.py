"""Run the alert schedules on the outbound cluster, so slow receivers never delay jobs.

Evaluation makes a firing's first delivery attempt, so both schedules move. Schedules are found
by name, whichever module their function lives in.
"""

from django.db import migrations

from perceptis.queues import OUTBOUND_CLUSTER

ALERT_SCHEDULES = ["Evaluate alert rules", "Deliver due alerts"]


def forwards(apps, schema_editor):
    schedule = apps.get_model("django_q", "Schedule")
    schedule.objects.filter(name__in=ALERT_SCHEDULES).update(cluster=OUTBOUND_CLUSTER)


def backwards(apps, schema_editor):
    schedule = apps.get_model("django_q", "Schedule")
    schedule.objects.filter(name__in=ALERT_SCHEDULES).update(cluster=None)


class Migration(migrations.Migration):
    dependencies = [("apikeys", "0008_keysecret_pepper_id")]

    operations = [migrations.RunPython(forwards, backwards)]
