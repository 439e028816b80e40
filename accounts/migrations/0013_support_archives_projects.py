"""Let the ``Support`` group see projects in admin and archive them (nothing else)."""

from django.db import migrations

from perceptis.groups import support_permissions


class Migration(migrations.Migration):
    dependencies = [("accounts", "0012_project_archive_permission")]
    operations = [support_permissions("accounts", ["view_project", "archive_project"])]
