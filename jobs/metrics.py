"""Job metrics for ``/metrics`` (``METRICS_COLLECTORS``), read from the database at scrape time.

The Job rows are the truth and live in one place, so the figures are the same whichever web
process is scraped, and include what every worker did.
"""

from django.db.models import Count
from prometheus_client.core import GaugeMetricFamily

from jobs.models import Job
from perceptis.health import queue_backlog


def collect():
    """Yield ``perceptis_jobs`` by status (queue depth: queued and running; outcomes: the
    finished statuses, over the retained jobs) and ``perceptis_queue_backlog`` by queue."""
    jobs = GaugeMetricFamily("perceptis_jobs", "Jobs by status (retained rows).", labels=["status"])
    counts = dict(Job.objects.order_by().values_list("status").annotate(n=Count("id")))
    for status in Job.Status.values:
        jobs.add_metric([status], counts.get(status, 0))
    yield jobs
    backlog = GaugeMetricFamily(
        "perceptis_queue_backlog", "Tasks waiting in a worker queue.", labels=["queue"]
    )
    sizes = queue_backlog()
    backlog.add_metric(["worker"], sizes["backlog"])
    backlog.add_metric(["outbound"], sizes["outbound_backlog"])
    yield backlog
