"""Model permissions given to the ``Support`` group by the apps' data migrations."""

SUPPORT_GROUP = "Support"


def support_permissions(app_label: str, codenames: list[str]):
    """Return a migration operation giving ``Support`` these permissions of ``app_label``.

    The app's permissions are created first (Django only creates them after all migrations);
    a missing one stops the migration. Reversed, the group loses them again.
    """
    from django.contrib.auth.management import create_permissions
    from django.db import migrations

    def permissions(apps):
        Permission = apps.get_model("auth", "Permission")
        return Permission.objects.filter(content_type__app_label=app_label, codename__in=codenames)

    def grant(apps, schema_editor):
        app_config = apps.get_app_config(app_label)
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
        group, _ = apps.get_model("auth", "Group").objects.get_or_create(name=SUPPORT_GROUP)
        found = list(permissions(apps))
        missing = set(codenames) - {p.codename for p in found}
        if missing:
            raise RuntimeError(f"Missing permissions for the Support group: {sorted(missing)}")
        group.permissions.add(*found)

    def revoke(apps, schema_editor):
        group = apps.get_model("auth", "Group").objects.filter(name=SUPPORT_GROUP).first()
        if group is not None:
            group.permissions.remove(*permissions(apps))

    return migrations.RunPython(grant, revoke)
