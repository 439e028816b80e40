"""Request-log rows for failed requests without a valid key: one per client address and minute.

Random keys cost an attacker nothing; one row each would fill the request log for its 30 days.
The buffer (``metering``) counts them per (address, minute) and a flush adds the count to the
address's row for that minute (``count``), creating it on the minute's first flush. The row's
``created_at`` is the start of the minute; its other values, the request id included, are
those of the minute's first such request from the address.
"""

from django.db.models import F

from apikeys.usage.models import RequestLog


def failures_write(failures: dict, *, build_row) -> None:
    """Add ``{(ip, minute): [count, log values]}`` to the request log (call in a transaction).

    ``build_row`` turns log values into an unsaved ``RequestLog``. Two processes writing the
    same address and minute's first row at the same moment may make two rows; counts add up.
    """
    for (ip, minute), (count, values) in sorted(failures.items(), key=lambda item: str(item[0])):
        # ``client_ip=None`` matches rows without an address (Django makes it IS NULL).
        rows = RequestLog.objects.filter(
            created_at=minute, api_key__isnull=True, status__gte=400, client_ip=ip
        )
        if not rows.update(count=F("count") + count):
            row = build_row(values)
            row.created_at, row.count = minute, count
            row.save()
