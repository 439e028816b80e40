"""Let the ``Support`` group read webhook endpoints and their deliveries (never a secret:
admin does not show it). Read only: support changes no endpoint and deletes no record."""

from django.db import migrations

SUPPORT_GROUP = "Support"
READS = ["view_webhookendpoint", "view_webhookdelivery"]


def grant(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    app_config = apps.get_app_config("webhooks")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name=SUPPORT_GROUP)
    found = list(Permission.objects.filter(content_type__app_label="webhooks", codename__in=READS))
    missing = set(READS) - {p.codename for p in found}
    if missing:
        raise RuntimeError(f"Missing permissions for the Support group: {sorted(missing)}")
    group.permissions.add(*found)


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group = Group.objects.filter(name=SUPPORT_GROUP).first()
    if group is not None:
        group.permissions.remove(
            *Permission.objects.filter(content_type__app_label="webhooks", codename__in=READS)
        )


class Migration(migrations.Migration):
    dependencies = [
        ("webhooks", "0002_delivery_schedule"),
        ("accounts", "0004_support_group"),
    ]
    operations = [migrations.RunPython(grant, revoke)]
