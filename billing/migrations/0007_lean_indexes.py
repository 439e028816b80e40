# Every submission writes a ledger row: drop its indexes that another index already serves (the
# account's, served by (account, -created_at); the project's pattern-matching twin), and name
# the project's index in Meta. Only the state changes through Django's operations; the schema
# by dropping and renaming indexes, because altering the fields would drop and re-add each
# foreign key, validating it against the whole table.

import django.db.models.deletion
from django.db import migrations, models

ACCOUNT = "billing_ledgerentry_account_id_ac8d6a24"
PROJECT = "billing_ledgerentry_project_id_005758be"
PROJECT_LIKE = "billing_ledgerentry_project_id_005758be_like"
NAMED = "ledger_project_idx"


def _rename(schema_editor, old, new):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f'ALTER INDEX "{old}" RENAME TO "{new}"')
    else:
        schema_editor.execute(f'DROP INDEX IF EXISTS "{old}"')
        schema_editor.execute(f'CREATE INDEX "{new}" ON "billing_ledgerentry" ("project_id")')


def drop_indexes(apps, schema_editor):
    schema_editor.execute(f'DROP INDEX IF EXISTS "{ACCOUNT}"')
    schema_editor.execute(f'DROP INDEX IF EXISTS "{PROJECT_LIKE}"')
    _rename(schema_editor, PROJECT, NAMED)


def restore_indexes(apps, schema_editor):
    _rename(schema_editor, NAMED, PROJECT)
    schema_editor.execute(f'CREATE INDEX "{ACCOUNT}" ON "billing_ledgerentry" ("account_id")')
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f'CREATE INDEX "{PROJECT_LIKE}" ON "billing_ledgerentry" '
            '("project_id" varchar_pattern_ops)'
        )


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0013_support_archives_projects'),
        ('billing', '0006_ledger_entry_project'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(drop_indexes, restore_indexes)],
            state_operations=[
                migrations.AlterField(
                    model_name='ledgerentry',
                    name='account',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='entries', to='billing.creditaccount'),
                ),
                migrations.AlterField(
                    model_name='ledgerentry',
                    name='project',
                    field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='ledger_entries', to='accounts.project', to_field='project_id'),
                ),
                migrations.AddIndex(
                    model_name='ledgerentry',
                    index=models.Index(fields=['project'], name='ledger_project_idx'),
                ),
            ],
        ),
    ]
