"""The worker's recurring tasks, created by the apps' data migrations."""


def schedules_ensure(schedule_model, schedules) -> None:
    """Create or update django-q2 schedules from ``(name, function, minutes between runs)``.

    ``schedule_model`` is the migration's historical ``django_q.Schedule``.
    """
    for name, func, minutes in schedules:
        schedule_model.objects.update_or_create(
            name=name,
            defaults={"func": func, "schedule_type": "I", "minutes": minutes, "repeats": -1},
        )


def schedules_remove(schedule_model, schedules) -> None:
    schedule_model.objects.filter(name__in=[name for name, _, _ in schedules]).delete()
