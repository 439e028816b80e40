"""Admin shows support webhook endpoints and deliveries read-only, and never a signing secret."""

from django.utils import timezone

from tests.helpers import SYSTEM
from webhooks.events import event_publish
from webhooks.services import webhookendpoint_create, webhookendpoint_rotate_secret


def test_support_reads_endpoints_and_deliveries_without_secrets(support, org):
    endpoint, first = webhookendpoint_create(
        organization=org,
        environment="live",
        actor=SYSTEM,
        url="https://hooks.example.com/in",
        events=["job.succeeded"],
    )
    _, second = webhookendpoint_rotate_secret(endpoint=endpoint, actor=SYSTEM, now=timezone.now())
    (delivery,) = event_publish(
        organization=org, environment="live", type="job.succeeded", data={"job_id": "job_x"}
    )

    pages = [
        support.get("/admin/webhooks/webhookendpoint/"),
        support.get(f"/admin/webhooks/webhookendpoint/{endpoint.pk}/change/"),
        support.get("/admin/webhooks/webhookdelivery/"),
        support.get(f"/admin/webhooks/webhookdelivery/{delivery.pk}/change/"),
    ]

    assert [p.status_code for p in pages] == [200, 200, 200, 200]
    text = "".join(p.content.decode() for p in pages)
    assert endpoint.public_id in text and delivery.public_id in text
    for secret in (first, second):
        assert secret.removeprefix("whsec_") not in text
    assert 'name="_save"' not in text  # read-only
    assert support.get("/admin/webhooks/webhookendpoint/?secret__startswith=enc").status_code in (
        400,
        302,
    )
