"""Let the ``Support`` group read webhook endpoints and their deliveries (never a secret:
admin does not show it). Read only: support changes no endpoint and deletes no record."""

from django.db import migrations

from perceptis.groups import support_permissions

READS = ["view_webhookendpoint", "view_webhookdelivery"]


class Migration(migrations.Migration):
    dependencies = [
        ("webhooks", "0002_delivery_schedule"),
        ("accounts", "0004_support_group"),
    ]
    operations = [support_permissions("webhooks", READS)]
