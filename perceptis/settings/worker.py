"""The worker (django-q2): its cluster, its outbound cluster and timings that stay safe."""

from django.core.exceptions import ImproperlyConfigured

from perceptis import queues
from perceptis.settings.base import env
from perceptis.settings.cache import REDIS_CLUSTER, REDIS_URL
from perceptis.settings.jobs import JOBS_LEASE_SECONDS

Q_WORKERS = env.int("Q_WORKERS", default=2)
Q_TIMEOUT = env.int("Q_TIMEOUT", default=JOBS_LEASE_SECONDS - 30)
Q_RETRY = env.int("Q_RETRY", default=JOBS_LEASE_SECONDS + 60)
Q_POLL = env.float("Q_POLL", default=0.5)
# Off: the queue is the database (django-q2's ORM broker). On: Redis at REDIS_URL, which has no
# delivery receipts: jobs are enqueued on commit and the reconciler covers any message lost in
# between.
Q_USE_REDIS_BROKER = env.bool("Q_USE_REDIS_BROKER", default=False)
# django-q2's Redis broker is a plain client of one server: on a cluster its queue's keys would
# be answered with MOVED by the nodes that do not hold them. With REDIS_CLUSTER the queue stays
# in the database (the ORM broker, the default).
if Q_USE_REDIS_BROKER and REDIS_CLUSTER:
    raise ImproperlyConfigured(
        "Q_USE_REDIS_BROKER needs a single Redis; with REDIS_CLUSTER use the ORM broker."
    )
# A task must not run twice: retried only once its run has timed out, and timed out before the
# job's lease ends.
if Q_RETRY <= Q_TIMEOUT:
    raise ImproperlyConfigured("Q_RETRY must be greater than Q_TIMEOUT, or tasks run twice.")
if Q_TIMEOUT >= JOBS_LEASE_SECONDS:
    raise ImproperlyConfigured("Q_TIMEOUT must be shorter than JOBS_LEASE_SECONDS.")

Q_CLUSTER = {
    "name": "perceptis",
    "workers": Q_WORKERS,
    "timeout": Q_TIMEOUT,
    "retry": Q_RETRY,
    "max_attempts": 1,
    "queue_limit": 50,
    "bulk": 10,
    "poll": Q_POLL,
    "catch_up": False,
    "save_limit": 1000,
    "ack_failures": True,
    "label": "Worker",
    "ALT_CLUSTERS": {queues.OUTBOUND_CLUSTER: {"workers": 2, "label": "Outbound"}},
}
if Q_USE_REDIS_BROKER and REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"
