"""Usage metering and the request log, without a database write per request.

``UsageMiddleware`` (``apikeys.usage.middleware``) measures every request under ``/api/v1/``
(the schema excepted) and hands one record to this process's buffer: counters and a latency
histogram per (key, organization, UTC hour), and a list of request-log rows. Failed requests
without a valid key go to the request log only, as one row per client address and minute
(``apikeys.usage.failures``).

The buffer is written to the database by the process that filled it:

- by a daemon thread, when the oldest record is older than ``APIKEYS_USAGE_FLUSH_SECONDS``
  (10 s by default), and at once when a response finds the buffer holding more than
  ``APIKEYS_USAGE_FLUSH_MAX_RECORDS``; so an idle process still writes what it holds, and no
  request waits for a flush (without the thread, the request that finds it due flushes);
- at interpreter exit.

Counters are written as atomic increments (``UPDATE … SET requests = requests + n``; the row is
inserted when missing, and the UPDATE retried if another process inserted it first), and the
request log with ``bulk_create``. So any number of web processes add up exactly, with or
without Redis, and no worker or scheduled task is needed: a process-local cache would be a
buffer no other process can flush, but every process here flushes its own. Figures are at most
one flush interval behind.

The trade-off: a process killed with SIGKILL (or one whose flush fails on a database error)
loses what it had not yet written, at most one flush interval of usage and log rows. A failed
flush is logged with the number of requests lost and never raised into a request; usage
figures are for dashboards and alerts, not billing (credits are drawn by the ledger).
"""

import atexit
import bisect
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.db import IntegrityError, connections, transaction
from django.db.models import F
from django.utils import timezone

from apikeys.usage.failures import failures_write
from apikeys.usage.models import BUCKET_FIELDS, LATENCY_BUCKETS_MS, RequestLog, UsageHourly
from perceptis.redaction import redact

logger = logging.getLogger(__name__)

# requests, errors, latency_ms_total, then one count per latency bucket.
_COUNTER_FIELDS = ("requests", "errors", "latency_ms_total", *BUCKET_FIELDS)
_LOG_FIELDS = (
    "created_at",
    "organization_id",
    "api_key_id",
    "method",
    "path",
    "status",
    "error_code",
    "latency_ms",
    "client_ip",
    "user_agent",
    "request_id",
)
# Text columns and their lengths: cleaned when written, not on the request path.
_LOG_TEXT = {"method": 8, "path": 255, "error_code": 64, "user_agent": 255, "request_id": 64}


@dataclass
class _Buffer:
    usage: dict[tuple[int, int, datetime], list[int]] = field(default_factory=dict)
    # Request-log rows as tuples in ``_LOG_FIELDS`` order: models are built when written.
    logs: list[tuple] = field(default_factory=list)
    # Failed requests without a key, per (client IP, minute): [count, first request's log row].
    failures: dict[tuple[str | None, datetime], list] = field(default_factory=dict)
    records: int = 0
    oldest: float | None = None  # time.monotonic() of the oldest record held


_lock = threading.Lock()
_buffer = _Buffer()
# Set by a request that finds the buffer due, so the flusher thread writes it, not the request.
_wake = threading.Event()
# The flusher thread and exit hook belong to one process; a forked child starts its own.
_owner_pid: int | None = None


def _reset_after_fork() -> None:
    global _lock, _buffer, _owner_pid, _wake
    # A child must not write its parent's records a second time.
    _lock = threading.Lock()
    _buffer = _Buffer()
    _wake = threading.Event()
    _owner_pid = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)


def _clean(text: str, limit: int) -> str:
    """Return ``text`` fit for a text column everywhere, with anything key-shaped removed."""
    if "sk-" in text:
        text = redact(text)
    text = text.replace("\x00", "")
    return text.encode("utf-8", "replace").decode("utf-8")[:limit]


def bucket_index(latency_ms: float) -> int:
    """Return the index of the histogram bucket ``latency_ms`` falls in."""
    return bisect.bisect_left(LATENCY_BUCKETS_MS, latency_ms)


def record(
    *,
    api_key_id: int | None,
    organization_id: int | None,
    method: str,
    path: str,
    status: int,
    error_code: str,
    latency_ms: float,
    client_ip: str | None,
    user_agent: str,
    request_id: str,
    now: datetime | None = None,
) -> None:
    """Add one request to this process's buffer, and flush it when it is due."""
    now = now or timezone.now()
    latency = max(0, round(latency_ms))
    log = (
        now,
        organization_id,
        api_key_id,
        method,
        path,
        status,
        error_code,
        latency,
        client_ip,
        user_agent,
        request_id,
    )
    with _lock:
        if api_key_id is not None and organization_id is not None:
            slot = (api_key_id, organization_id, now.replace(minute=0, second=0, microsecond=0))
            counters = _buffer.usage.get(slot)
            if counters is None:
                counters = _buffer.usage[slot] = [0] * len(_COUNTER_FIELDS)
            counters[0] += 1
            counters[1] += status >= 400
            counters[2] += latency
            counters[3 + bucket_index(latency_ms)] += 1
        if api_key_id is None and status >= 400:
            # Unauthenticated traffic is free to send: one row per address and minute, not
            # one per request, so random keys cannot fill the request log.
            slot = (client_ip, now.replace(second=0, microsecond=0))
            aggregate = _buffer.failures.get(slot)
            if aggregate is None:
                _buffer.failures[slot] = [1, log]
            else:
                aggregate[0] += 1
        else:
            _buffer.logs.append(log)
        _buffer.records += 1
        if _buffer.oldest is None:
            _buffer.oldest = time.monotonic()
    _ensure_flusher()


def flush_due() -> bool:
    """Return whether the buffer is old or big enough to be written now."""
    oldest = _buffer.oldest
    if oldest is None:
        return False
    return (
        _buffer.records >= settings.APIKEYS_USAGE_FLUSH_MAX_RECORDS
        or time.monotonic() - oldest >= settings.APIKEYS_USAGE_FLUSH_SECONDS
    )


def _take() -> _Buffer:
    global _buffer
    with _lock:
        taken, _buffer = _buffer, _Buffer()
    return taken


def discard() -> int:
    """Drop everything buffered in this process and return how many requests it held (tests)."""
    return _take().records


def flush() -> int:
    """Write this process's buffered usage and request log; return the requests written.

    Never raises: on a database error the records are dropped and the loss is logged.
    """
    taken = _take()
    if not taken.records:
        return 0
    try:
        if taken.usage:
            _write_usage(taken.usage)
    except Exception:
        lost = sum(c[0] for c in taken.usage.values())
        logger.exception("Usage flush failed; usage of %d requests lost", lost)
    try:
        with transaction.atomic():
            RequestLog.objects.bulk_create(
                [_log_row(values) for values in taken.logs], batch_size=500
            )
            failures_write(taken.failures, build_row=_log_row)
    except Exception:
        lost = len(taken.logs) + sum(n for n, _ in taken.failures.values())
        logger.exception("Request log flush failed; %d log rows lost", lost)
    return taken.records


def _log_row(values: tuple) -> RequestLog:
    row = dict(zip(_LOG_FIELDS, values, strict=True))
    for name, limit in _LOG_TEXT.items():
        row[name] = _clean(row[name], limit)
    return RequestLog(**row)


def _write_usage(usage: dict[tuple[int, int, datetime], list[int]]) -> None:
    # One transaction, rows in a fixed order, so that flushes of several processes take row
    # locks in the same order and cannot deadlock on PostgreSQL.
    with transaction.atomic():
        for (api_key_id, organization_id, hour), counters in sorted(usage.items()):
            increments = {
                name: F(name) + value
                for name, value in zip(_COUNTER_FIELDS, counters, strict=True)
                if value
            }
            rows = UsageHourly.objects.filter(api_key_id=api_key_id, hour=hour)
            if rows.update(**increments):
                continue
            try:
                with transaction.atomic():
                    UsageHourly.objects.create(
                        api_key_id=api_key_id,
                        organization_id=organization_id,
                        hour=hour,
                        **dict(zip(_COUNTER_FIELDS, counters, strict=True)),
                    )
            except IntegrityError:
                # Another process inserted the row since our UPDATE: add to it instead.
                rows.update(**increments)


def _flush_in_thread() -> None:
    try:
        flush()
    finally:
        # Connections are per thread; a flusher thread must not leave one open.
        connections.close_all()


def _flusher_loop(pid: int) -> None:
    while _owner_pid == pid:
        _wake.wait(max(0.1, settings.APIKEYS_USAGE_FLUSH_SECONDS / 2))
        _wake.clear()
        if _owner_pid != pid or not settings.APIKEYS_USAGE_FLUSH_THREAD:
            continue
        if flush_due():
            _flush_in_thread()


def _flusher_running() -> bool:
    return _owner_pid == os.getpid() and settings.APIKEYS_USAGE_FLUSH_THREAD


def _ensure_flusher() -> None:
    """Start this process's flusher thread and exit hook once, on its first record."""
    global _owner_pid
    pid = os.getpid()
    if _owner_pid == pid or not settings.APIKEYS_USAGE_FLUSH_THREAD:
        return
    with _lock:
        if _owner_pid == pid:
            return
        _owner_pid = pid
    atexit.register(flush)
    threading.Thread(target=_flusher_loop, args=(pid,), name="usage-flusher", daemon=True).start()


def flush_if_due() -> None:
    """Write the buffer if it is due: by waking the flusher thread, or here without one."""
    if not flush_due():
        return
    if _flusher_running():
        _wake.set()
    else:
        flush()
