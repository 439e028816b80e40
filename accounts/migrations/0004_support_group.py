"""Create the ``Support`` group with exactly the permissions support work in admin needs.

Support staff look up organizations, keys, jobs, the ledger and the audit log; change an
organization's plan; disable, enable and revoke keys; retry and cancel jobs; and grant or adjust
credits (which writes a ledger entry). They delete nothing and change no user or password.
"""

from django.db import migrations

SUPPORT_GROUP = "Support"
SUPPORT_PERMISSIONS = {
    "accounts": [
        "view_organization",
        "change_organization",  # the plan, through organization_set_plan
        "view_membership",
        "view_plan",
        "view_auditevent",
    ],
    "apikeys": ["view_apikey", "change_apikey"],  # disable, enable, revoke
    "jobs": ["view_job", "change_job"],  # retry, cancel
    "billing": ["view_ledgerentry", "add_ledgerentry"],  # the grant-or-adjust form
}


def create_support_group(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    # Permissions are normally created by post_migrate, after every migration has run; on a
    # fresh database they do not exist yet, so create them now (this is idempotent).
    for label in SUPPORT_PERMISSIONS:
        app_config = apps.get_app_config(label)
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    permissions = []
    for app_label, codenames in SUPPORT_PERMISSIONS.items():
        found = list(
            Permission.objects.filter(content_type__app_label=app_label, codename__in=codenames)
        )
        missing = set(codenames) - {p.codename for p in found}
        if missing:
            raise RuntimeError(f"Missing permissions for the Support group: {sorted(missing)}")
        permissions.extend(found)
    group, _ = Group.objects.get_or_create(name=SUPPORT_GROUP)
    group.permissions.set(permissions)


def remove_support_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name=SUPPORT_GROUP).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_plans"),
        ("apikeys", "0001_initial"),
        ("billing", "0001_initial"),
        ("jobs", "0002_schedules"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]
    operations = [migrations.RunPython(create_support_group, remove_support_group)]
