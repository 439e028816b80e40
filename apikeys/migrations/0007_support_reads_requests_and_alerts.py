"""Let the ``Support`` group read what the README says support looks at: the request log (a
request found by the ``X-Request-ID`` a customer quotes), hourly usage, and alert rules and their
deliveries. Read only: support changes no rule and deletes no record."""

from django.db import migrations

from perceptis.groups import support_permissions

READS = ["view_requestlog", "view_usagehourly", "view_alertrule", "view_alertdelivery"]


class Migration(migrations.Migration):
    dependencies = [
        ("apikeys", "0006_alert_signing_secret_encrypted"),
        ("accounts", "0004_support_group"),
    ]
    operations = [support_permissions("apikeys", READS)]
