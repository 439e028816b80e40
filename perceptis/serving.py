"""Gunicorn's logger for Perceptis: its access and error logs pass the same redaction as Django's.

``gunicorn.conf.py`` (at the repository root) names ``RedactingLogger`` as its ``logger_class``.
The access log writes the request line and headers, which carry secrets: a key a client put in
the path or a ``Referer``, a password-reset link's key, an invitation link's token. Every record
of both loggers goes through ``RedactApiKeysFilter``, the same filter as Django's logs
(``perceptis.redaction``: every secret redacted, control characters in logged values escaped).
"""

from gunicorn.glogging import Logger

from perceptis.middleware import RedactApiKeysFilter


class RedactingLogger(Logger):
    def setup(self, cfg):
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            if not any(isinstance(f, RedactApiKeysFilter) for f in log.filters):
                log.addFilter(RedactApiKeysFilter())
