"""An endpoint an API key registered belongs to that key's project, so that the key (and only
keys of its project) still sees it and it receives only that project's events. Endpoints made on
the page, or whose registration is not on record, keep receiving every project's events."""

from django.db import migrations


def endpoints_to_their_keys_projects(apps, schema_editor):
    AuditEvent = apps.get_model("accounts", "AuditEvent")
    WebhookEndpoint = apps.get_model("webhooks", "WebhookEndpoint")
    registrations = AuditEvent.objects.filter(
        action="webhook_endpoint.created",
        target_type="webhooks.webhookendpoint",
        actor_key__isnull=False,
    ).values_list("target_id", "actor_key__project_id")
    for public_id, project_id in registrations.iterator():
        WebhookEndpoint.objects.filter(public_id=public_id, project__isnull=True).update(
            project_id=project_id
        )


class Migration(migrations.Migration):
    dependencies = [
        ("webhooks", "0006_endpoint_project"),
        ("apikeys", "0017_key_project_required"),
    ]
    operations = [migrations.RunPython(endpoints_to_their_keys_projects, migrations.RunPython.noop)]
