"""Give every organization its Default project (new ones get it from ``organization_create``)."""

from django.db import migrations

from accounts.models import new_project_id


def create_default_projects(apps, schema_editor):
    Organization = apps.get_model("accounts", "Organization")
    Project = apps.get_model("accounts", "Project")
    having = Project.objects.filter(is_default=True).values("organization_id")
    for organization in Organization.objects.exclude(pk__in=having).iterator():
        Project.objects.create(
            organization=organization,
            project_id=new_project_id(),
            name="Default",
            is_default=True,
            created_at=organization.created_at,
        )


class Migration(migrations.Migration):
    dependencies = [("accounts", "0010_projects")]
    operations = [migrations.RunPython(create_default_projects, migrations.RunPython.noop)]
