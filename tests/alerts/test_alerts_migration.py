"""A database with alert rules and deliveries made while alerts lived in ``apikeys`` upgrades
to the ``alerts`` app without losing a row: same tables, same ids, secrets still readable,
statuses in the one vocabulary, the old signature kept for existing webhook rules, and the
permissions support had still given."""

import pytest
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.utils import timezone
from django_q.models import Schedule

from alerts.models import AlertDelivery, AlertRule
from tests.helpers import migrate

BEFORE_THE_MOVE = [("apikeys", "0011_form_tokens")]
OLD_SECRET = "whsec_" + "ab12" * 12  # the old format: 24 random bytes in hex


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_rules_and_deliveries_survive_the_move_to_the_alerts_app(make_org):
    org = make_org()
    old = migrate(BEFORE_THE_MOVE)
    OldRule = old.get_model("apikeys", "AlertRule")
    OldDelivery = old.get_model("apikeys", "AlertDelivery")
    hook = OldRule.objects.create(
        organization_id=org.pk,
        name="Hook",
        metric="requests",
        threshold=10,
        channel="webhook",
        destination="https://hooks.example.com/p",
        signing_secret=OLD_SECRET,
    )
    mail = OldRule.objects.create(
        organization_id=org.pk,
        name="Mail",
        metric="credits_below",
        threshold=5,
        channel="email",
        destination="ops@example.com",
    )
    now = timezone.now()
    delivered = OldDelivery.objects.create(
        rule=hook, window_start=now, value=12, message="12", status="delivered", attempts=2
    )
    pending = OldDelivery.objects.create(
        rule=mail, window_start=now, value=1, message="1", status="pending", next_attempt_at=now
    )

    migrate()

    hook_now, mail_now = AlertRule.objects.get(pk=hook.pk), AlertRule.objects.get(pk=mail.pk)
    assert (hook_now.name, hook_now.signing_secret) == ("Hook", OLD_SECRET)
    assert hook_now.legacy_signature is True  # receivers keep verifying the old scheme
    assert mail_now.legacy_signature is False
    assert AlertDelivery.objects.get(pk=delivered.pk).status == "succeeded"
    assert AlertDelivery.objects.get(pk=delivered.pk).attempts == 2
    assert AlertDelivery.objects.get(pk=pending.pk).status == "pending"
    assert AlertRule._meta.db_table == "apikeys_alertrule"
    # The content types moved, so the Support group's permissions followed them.
    assert not ContentType.objects.filter(app_label="apikeys", model="alertrule").exists()
    support = set(Group.objects.get(name="Support").permissions.values_list("codename", flat=True))
    assert {"view_alertrule", "view_alertdelivery"} <= support
    schedules = dict(Schedule.objects.values_list("name", "func"))
    assert schedules["Evaluate alert rules"] == "alerts.tasks.evaluate_alerts"
    assert "Deliver due alerts" not in schedules


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_move_can_be_reversed_without_losing_rows(make_org):
    org = make_org()
    rule = AlertRule.objects.create(
        organization=org,
        name="Hook",
        metric="requests",
        threshold=10,
        channel="webhook",
        destination="https://hooks.example.com/p",
        signing_secret=OLD_SECRET,
    )
    AlertDelivery.objects.create(
        rule=rule, window_start=timezone.now(), value=1, message="1", status="succeeded"
    )

    old = migrate(BEFORE_THE_MOVE)

    OldDelivery = old.get_model("apikeys", "AlertDelivery")
    assert OldDelivery.objects.get().status == "delivered"
    assert old.get_model("apikeys", "AlertRule").objects.get().signing_secret == OLD_SECRET
    migrate()
    assert AlertDelivery.objects.get().status == "succeeded"
