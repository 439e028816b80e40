"""Alert rules and deliveries moved to the ``alerts`` app: forget them here, keep the tables.

Only the model state moves (``alerts.0001_alert_models_from_apikeys`` takes it over with the
same tables); no row is copied or dropped.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("apikeys", "0011_form_tokens")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name="AlertDelivery"),
                migrations.DeleteModel(name="AlertRule"),
            ],
            database_operations=[],
        )
    ]
