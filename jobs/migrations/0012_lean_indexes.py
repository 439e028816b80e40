# Every submission inserts a job and a ledger row: drop the indexes of theirs that another index
# already serves. Only the state changes through Django's operations; the schema changes by
# dropping the indexes (and, on PostgreSQL, renaming the unique constraint), because altering
# the fields would drop and re-add each foreign key, validating it against the whole table.

import django.db.models.deletion
from django.db import migrations, models

DROPPED = {
    # name: (table, columns, PostgreSQL pattern-matching operator class or None)
    "jobs_job_api_key_id_a43a9ce8": ("jobs_job", "api_key_id", None),
    "jobs_job_organization_id_7d00dcbc": ("jobs_job", "organization_id", None),
    "jobs_job_project_id_93355715": ("jobs_job", "project_id", None),
    "jobs_job_project_id_93355715_like": ("jobs_job", "project_id", "varchar_pattern_ops"),
    "jobs_job_job_id_37102441_like": ("jobs_job", "job_id", "varchar_pattern_ops"),
}


def drop_indexes(apps, schema_editor):
    postgresql = schema_editor.connection.vendor == "postgresql"
    for name, (_, _, opclass) in DROPPED.items():
        if opclass is None or postgresql:
            schema_editor.execute(f'DROP INDEX IF EXISTS "{name}"')
    if postgresql:
        schema_editor.execute(
            'ALTER TABLE "jobs_job" RENAME CONSTRAINT "jobs_job_job_id_key" TO "one_job_per_job_id"'
        )
    else:
        # SQLite keeps the column's own UNIQUE until Django next rebuilds the table.
        schema_editor.execute('CREATE UNIQUE INDEX "one_job_per_job_id" ON "jobs_job" ("job_id")')


def restore_indexes(apps, schema_editor):
    postgresql = schema_editor.connection.vendor == "postgresql"
    if postgresql:
        schema_editor.execute(
            'ALTER TABLE "jobs_job" RENAME CONSTRAINT "one_job_per_job_id" TO "jobs_job_job_id_key"'
        )
    else:
        schema_editor.execute('DROP INDEX IF EXISTS "one_job_per_job_id"')
    for name, (table, column, opclass) in DROPPED.items():
        if opclass is None:
            schema_editor.execute(f'CREATE INDEX "{name}" ON "{table}" ("{column}")')
        elif postgresql:
            schema_editor.execute(f'CREATE INDEX "{name}" ON "{table}" ("{column}" {opclass})')


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0013_support_archives_projects'),
        ('apikeys', '0018_key_allowed_models'),
        ('jobs', '0011_costs_rollup_schedule'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(drop_indexes, restore_indexes)],
            state_operations=[
                migrations.AlterField(
                    model_name='job',
                    name='api_key',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='jobs', to='apikeys.apikey'),
                ),
                migrations.AlterField(
                    model_name='job',
                    name='job_id',
                    field=models.CharField(max_length=40),
                ),
                migrations.AlterField(
                    model_name='job',
                    name='organization',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='jobs', to='accounts.organization'),
                ),
                migrations.AlterField(
                    model_name='job',
                    name='project',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='jobs', to='accounts.project', to_field='project_id'),
                ),
                migrations.AddConstraint(
                    model_name='job',
                    constraint=models.UniqueConstraint(fields=('job_id',), name='one_job_per_job_id'),
                ),
            ],
        ),
    ]
