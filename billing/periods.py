"""The spend periods a job counts in: its UTC day and calendar month."""

from datetime import UTC, date, datetime


def spend_periods(moment: datetime) -> tuple[date, date]:
    """Return the first days of the UTC day and calendar month containing ``moment``."""
    day = moment.astimezone(UTC).date()
    return day, day.replace(day=1)
