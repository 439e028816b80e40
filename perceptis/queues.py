"""The worker's clusters (django-q2), named by ``Q_CLUSTER`` and by the schedules and tasks.

Outbound deliveries (alert webhooks, Slack, job webhooks) run on a cluster of their own,
``OUTBOUND_CLUSTER``, with its own queue: ``Q_CLUSTER_NAME=outbound manage.py qcluster``. Their
schedules name that cluster, so a slow receiver holds only outbound workers and never delays a
generation job.
"""

OUTBOUND_CLUSTER = "outbound"
