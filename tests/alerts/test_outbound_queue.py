"""Alert deliveries run on their own django-q2 cluster, so a slow receiver never delays a job;
and an organization has a bounded number of rules."""

import time
from unittest import mock

import pytest
from django.conf import settings as django_settings
from django.utils import timezone
from django_q import scheduler as q_scheduler
from django_q.conf import Conf
from django_q.models import Schedule

from alerts.models import AlertDelivery
from alerts.services import alertrule_create
from jobs.models import Job
from jobs.services import job_submit
from perceptis.errors import InvalidRequest
from perceptis.queues import OUTBOUND_CLUSTER
from tests.helpers import SYSTEM, HoldingReceiver
from tests.jobs.test_worker_and_reconciler import _database_url
from tests.processes import qcluster, wait_for

RULE = {"metric": "requests", "threshold": 10, "window_minutes": 60}


def _rule(org, n, destination="https://hooks.example.com/x"):
    return alertrule_create(
        organization=org,
        actor=SYSTEM,
        name=f"Rule {n}",
        channel="webhook",
        destination=destination,
        **RULE,
    )


def test_an_organization_has_at_most_50_alert_rules(org, make_org):
    for n in range(50):
        _rule(org, n)
    with pytest.raises(InvalidRequest) as refused:
        _rule(org, 50)
    assert "at most 50" in refused.value.fields["name"][0]
    _rule(make_org(), 0)  # another organization's count is its own


def test_the_alert_schedules_run_on_the_outbound_cluster(db):
    clusters = dict(
        Schedule.objects.filter(func__startswith="alerts.").values_list("func", "cluster")
    )
    assert clusters == {
        "alerts.tasks.evaluate_alerts": OUTBOUND_CLUSTER,
        "alerts.tasks.purge_alert_deliveries": OUTBOUND_CLUSTER,
    }
    # Alert deliveries are swept with every other outbox delivery, on the same cluster.
    sweep = Schedule.objects.get(func="webhooks.tasks.deliver_due_webhooks")
    assert sweep.cluster == OUTBOUND_CLUSTER
    assert OUTBOUND_CLUSTER in django_settings.Q_CLUSTER["ALT_CLUSTERS"]


def _run_schedules_as(cluster_name: str) -> None:
    # What each cluster's scheduler does every 30 s, now: enqueue its own due schedules.
    with mock.patch.object(Conf, "CLUSTER_NAME", cluster_name):
        q_scheduler.scheduler()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_slow_receiver_does_not_delay_a_generation_job(make_org, make_key, settings):
    org = make_org(credits=10)
    key, _ = make_key(org)
    receiver = HoldingReceiver(hold=20)
    settings.OUTBOUND_ALLOWED_PORTS = [80, 443, receiver.port]
    rule = _rule(org, 1, destination=f"http://127.0.0.1:{receiver.port}/hook")
    AlertDelivery.objects.create(
        rule=rule,
        window_start=timezone.now().replace(minute=0, second=0, microsecond=0),
        value=25,
        message="25 requests",
        payload={"id": "alert_slow"},
        next_attempt_at=timezone.now(),
    )
    Schedule.objects.update(next_run=timezone.now() - timezone.timedelta(seconds=1))
    _run_schedules_as(Conf.PREFIX)
    _run_schedules_as(OUTBOUND_CLUSTER)

    env = {
        "DATABASE_URL": _database_url(),
        "Q_WORKERS": "1",
        "Q_POLL": "0.1",
        "LOG_LEVEL": "WARNING",
        "OUTBOUND_ALLOW_PRIVATE_ADDRESSES": "True",
        "OUTBOUND_ALLOWED_PORTS": f"80,443,{receiver.port}",
        "WEBHOOKS_DEADLINE_SECONDS": "25",
    }
    with (
        qcluster(env) as worker,
        qcluster({**env, "Q_CLUSTER_NAME": OUTBOUND_CLUSTER}) as outbound,
    ):
        assert receiver.started.wait(30), outbound.output()
        job = job_submit(key=key, prompt="hello", options={}).job
        started = time.monotonic()
        wait_for(
            lambda: Job.objects.get(pk=job.pk).status == Job.Status.SUCCEEDED,
            timeout=15,
            what="the job to succeed while the receiver holds its delivery",
            program=worker,
        )
        assert not receiver.finished.is_set()
        assert time.monotonic() - started < 15
    receiver.close()
