"""Let the ``Support`` group read the price table (superusers alone change it)."""

from django.db import migrations

from perceptis.groups import support_permissions

READ_PRICES = ["view_modelprice", "view_modelaccess"]


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0003_org_monthly_spend_limit"),
        ("accounts", "0004_support_group"),
    ]
    operations = [support_permissions("billing", READ_PRICES)]
