"""Let the ``Support`` group read the price table (superusers alone change it)."""

from django.db import migrations

READ_PRICES = ["view_modelprice", "view_modelaccess"]


def grant(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    app_config = apps.get_app_config("billing")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group = Group.objects.filter(name="Support").first()
    if group is not None:
        group.permissions.add(
            *Permission.objects.filter(content_type__app_label="billing", codename__in=READ_PRICES)
        )


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group = Group.objects.filter(name="Support").first()
    if group is not None:
        group.permissions.remove(
            *Permission.objects.filter(content_type__app_label="billing", codename__in=READ_PRICES)
        )


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0003_org_monthly_spend_limit"),
        ("accounts", "0004_support_group"),
    ]
    operations = [migrations.RunPython(grant, revoke)]
