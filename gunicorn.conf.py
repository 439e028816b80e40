"""Gunicorn settings for serving Perceptis in production: ``gunicorn -c gunicorn.conf.py
perceptis.wsgi`` (``bin/run`` uses it too).

Run it behind a buffering reverse proxy (nginx, a cloud load balancer) that reads whole
requests and responses before passing them on: gunicorn's workers are few, and a proxy that
buffers keeps slow clients (a body sent a byte at a time, a slow reader) from holding them.
Chunked request bodies, which a proxy usually turns into sized ones, are refused with 411.

Environment: ``GUNICORN_BIND`` (``HOST``:``PORT``, default 127.0.0.1:8000), ``WEB_CONCURRENCY``
(worker processes, 2; always 1 without ``REDIS_URL``, whose limits live in process memory),
``GUNICORN_WORKER_CLASS`` (sync; gthread without ``REDIS_URL``), ``GUNICORN_THREADS`` (threads
per gthread worker, 8),
``GUNICORN_TIMEOUT`` (30 s a request may take before its worker is restarted),
``GUNICORN_GRACEFUL_TIMEOUT`` (20 s to finish requests on shutdown),
``GUNICORN_ACCESS_LOG`` (``-``: stdout; empty: off),
``GUNICORN_ERROR_LOG`` (``-``: stderr), ``GUNICORN_LOG_LEVEL`` (info).
"""

import os

_env = os.environ.get

bind = _env("GUNICORN_BIND") or f"{_env('HOST', '127.0.0.1')}:{_env('PORT', '8000')}"
# Without Redis, rate limits, the failed-key throttle and the key cache count in each
# process's memory: only one process keeps them whole, so that is what is served.
EMBEDDED = not _env("REDIS_URL")
# Sync workers, one request per process at a time: measured against threaded (2 x 8, 4 x 2)
# and gevent workers, they served status polls and generates fastest and steadiest (see the
# README's Performance); threads in one process contend for its interpreter lock. Embedded,
# the one process serves with threads, so that one slow request does not hold every client.
worker_class = _env("GUNICORN_WORKER_CLASS") or ("gthread" if EMBEDDED else "sync")
workers = 1 if EMBEDDED else int(_env("WEB_CONCURRENCY", "2"))
# gunicorn turns a sync worker with more than one thread into a gthread worker.
threads = int(_env("GUNICORN_THREADS") or ("8" if worker_class == "gthread" else "1"))
timeout = int(_env("GUNICORN_TIMEOUT", "30"))
graceful_timeout = int(_env("GUNICORN_GRACEFUL_TIMEOUT", "20"))
keepalive = 5
# A worker is replaced after this many requests (with jitter), bounding any slow leak.
max_requests = 10000
max_requests_jitter = 1000
# Request line and headers: small, as API requests are; larger ones get a 4xx from gunicorn.
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 8190

# No control socket: its default path is shared by every gunicorn of the user on the machine.
control_socket_disable = True

# Logs: both through the one redaction of secrets (perceptis.serving.RedactingLogger).
logger_class = "perceptis.serving.RedactingLogger"
accesslog = _env("GUNICORN_ACCESS_LOG", "-") or None
errorlog = _env("GUNICORN_ERROR_LOG", "-")
loglevel = _env("GUNICORN_LOG_LEVEL", "info")
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms "%({x-request-id}o)s" "%(a)s"'


def on_starting(server):
    """Say what is served, and why one process only without Redis."""
    if EMBEDDED:
        server.log.warning(
            "No REDIS_URL: serving one worker process (WEB_CONCURRENCY is ignored), since "
            "rate limits and the failed-key throttle are counted in process memory. Set "
            "REDIS_URL to serve more processes."
        )
    server.log.info(
        "Serving %s worker(s) of class %s%s",
        workers,
        worker_class,
        f" with {threads} threads each" if worker_class == "gthread" else "",
    )


def worker_exit(server, worker):
    """Write the worker's buffered usage and request log before it exits (not left to atexit,
    which a second signal could interrupt)."""
    from apikeys.usage import metering

    metering.flush()
