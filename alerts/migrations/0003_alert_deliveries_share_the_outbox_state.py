"""Alert deliveries go through the webhooks outbox engine: its state, its status words.

- The attempt record every outbox delivery has (last attempt, response status, duration).
- ``delivered`` becomes ``succeeded``, the one status vocabulary of outbound deliveries.
- Rules made before now keep signing the older way (``legacy_signature`` on), so receivers
  that verify ``Perceptis-Signature`` keep working; new rules use Standard Webhooks.
- The alert sweep goes: ``webhooks.tasks.deliver_due_webhooks`` sends every outbox's due
  deliveries.
"""

from django.db import migrations, models

DELIVER_DUE_ALERTS = "Deliver due alerts"


def existing_rules_sign_the_old_way(apps, schema_editor):
    apps.get_model("alerts", "AlertRule").objects.filter(channel="webhook").update(
        legacy_signature=True
    )


def rename_status(old: str, new: str):
    def rename(apps, schema_editor):
        apps.get_model("alerts", "AlertDelivery").objects.filter(status=old).update(status=new)

    return rename


def drop_alert_sweep(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=DELIVER_DUE_ALERTS).delete()


class Migration(migrations.Migration):

    dependencies = [
        ('alerts', '0002_alert_schedules_follow_the_move'),
        ('webhooks', '0004_destination_leases'),
    ]

    operations = [
        migrations.AddField(
            model_name='alertdelivery',
            name='last_attempt_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='alertdelivery',
            name='last_duration_ms',
            field=models.PositiveIntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='alertdelivery',
            name='last_response_status',
            field=models.PositiveSmallIntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='alertrule',
            name='legacy_signature',
            field=models.BooleanField(default=False),
        ),
        migrations.AlterField(
            model_name='alertdelivery',
            name='status',
            field=models.CharField(choices=[('pending', 'Pending'), ('succeeded', 'Succeeded'), ('failed', 'Failed')], default='pending', max_length=12),
        ),
        migrations.RunPython(existing_rules_sign_the_old_way, migrations.RunPython.noop),
        migrations.RunPython(rename_status("delivered", "succeeded"), rename_status("succeeded", "delivered")),
        migrations.RunPython(drop_alert_sweep, migrations.RunPython.noop),
    ]
