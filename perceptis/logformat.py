"""Structured logs (``LOG_FORMAT=json``): one JSON object a line, for log shippers."""

import json
import logging
from datetime import UTC, datetime

from perceptis.redaction import redact


class JsonLinesFormatter(logging.Formatter):
    """Format a record as ``{"time", "level", "logger", "request_id", "message"[, "exc"]}``.

    The message has already passed the redaction filter; the traceback is redacted here, since
    it may quote a value a client sent.
    """

    def format(self, record):
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "request_id": getattr(record, "request_id", "-"),
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exc"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)
