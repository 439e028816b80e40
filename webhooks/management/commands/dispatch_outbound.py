"""``manage.py dispatch_outbound``: queue due outbound deliveries within seconds of their time.

django-q2's scheduler looks at schedules about every 30 seconds, too coarse for a retry due
5 seconds after a failure. This loop asks the database every ``WEBHOOKS_DISPATCH_SECONDS`` for
destinations with a due delivery and no worker (one indexed query per outbox when idle) and
queues them on the outbound cluster. Several may run: a destination's lease lets one queue it.
"""

import logging
import signal
import threading

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import close_old_connections

from webhooks.delivery import outbox_dispatch_due

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Queue due webhook and alert deliveries on the outbound cluster, every few seconds."

    def add_arguments(self, parser):
        parser.add_argument("--ticks", type=int, default=0, help="Look this often, then exit.")

    def handle(self, *args, ticks=0, **options):
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        looked = 0
        while not stop.is_set():
            close_old_connections()  # drops a connection an earlier tick found broken
            try:
                outbox_dispatch_due()
            except Exception:
                # A dropped database connection or a broker outage: try again next tick.
                logger.exception("Dispatching due outbound deliveries failed")
            looked += 1
            if looked == ticks:
                break
            stop.wait(settings.WEBHOOKS_DISPATCH_SECONDS)
