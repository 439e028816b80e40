"""Gunicorn's logger for Perceptis: its access and error logs pass the same redaction as Django's.

``gunicorn.conf.py`` (at the repository root) names ``RedactingLogger`` as its ``logger_class``.
Clients put keys where they should not (``GET /api/v1/status/<key>``, ``?cursor=<key>``, a
``Referer``); the access log writes the request line and headers, so every record of both
loggers goes through ``RedactApiKeysFilter``: key-shaped text redacted, control characters in
the logged values escaped.
"""

from gunicorn.glogging import Logger

from perceptis.middleware import RedactApiKeysFilter


class RedactingLogger(Logger):
    def setup(self, cfg):
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            if not any(isinstance(f, RedactApiKeysFilter) for f in log.filters):
                log.addFilter(RedactApiKeysFilter())
