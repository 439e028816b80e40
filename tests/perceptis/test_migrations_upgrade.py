"""A database migrated before the code moved into concern folders upgrades cleanly."""

import pytest
from django.db import connection
from django.utils.module_loading import import_string
from django_q.models import Schedule

from tests.helpers import migrate

BEFORE_THE_MOVE = [("jobs", "0003_job_finished_index")]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_schedules_follow_their_tasks_to_the_new_modules():
    migrate(BEFORE_THE_MOVE)
    before = set(Schedule.objects.values_list("func", flat=True))
    assert "apikeys.tasks.purge_old_data" in before

    migrate()

    after = dict(Schedule.objects.values_list("name", "func"))
    assert after["Purge old usage, request logs and jobs"] == "jobs.tasks.purge_old_data"
    assert after["Evaluate alert rules"] == "alerts.tasks.evaluate_alerts"
    # Every schedule names a function the worker can import.
    for func in after.values():
        assert callable(import_string(func)), func


def test_the_models_need_no_migration_after_the_move(db):
    from django.apps import apps
    from django.db.migrations.autodetector import MigrationAutodetector
    from django.db.migrations.loader import MigrationLoader
    from django.db.migrations.state import ProjectState
    from django.utils import translation

    loader = MigrationLoader(connection)
    # As makemigrations does: untranslated, so the locale's texts are not taken for changes.
    with translation.override(None):
        changes = MigrationAutodetector(
            loader.project_state(), ProjectState.from_apps(apps)
        ).changes(graph=loader.graph)
    assert changes == {}
