"""Alert rules on spend: a key at N % of its spend limit, the organization at N % of its month."""

import pytest
from django.core import mail
from django.utils import timezone

from alerts.evaluation import alerts_evaluate
from alerts.models import AlertDelivery
from alerts.services import alertrule_create
from billing.services import credits_spend_limit_set
from jobs.services import job_submit
from perceptis.errors import InvalidRequest
from tests.helpers import SYSTEM
from webhooks.delivery import webhooks_deliver_due

FIVE = {"model": "gpt-4o", "max_tokens": 1000}  # reserves 5 credits for prompt "p"


def rule_for(org, metric, threshold, **extra):
    return alertrule_create(
        organization=org,
        actor=SYSTEM,
        name=f"{metric} at {threshold}",
        metric=metric,
        threshold=threshold,
        channel="email",
        destination="ops@example.com",
        window_minutes=60,
        **extra,
    )


def fired(rule) -> bool:
    return AlertDelivery.objects.filter(rule=rule).exists()


def test_key_spend_rule_fires_at_n_percent_of_the_keys_limit(org, make_key):
    key, _ = make_key(org, name="Batch", spend_limit_credits=10, spend_limit_period="day")
    job_submit(key=key, prompt="p", options=FIVE)  # 5 of 10: 50 %
    at_half = rule_for(org, "key_spend", 50)
    above = rule_for(org, "key_spend", 51)

    alerts_evaluate(now=timezone.now())
    webhooks_deliver_due()

    assert fired(at_half) and not fired(above)
    delivery = AlertDelivery.objects.get(rule=at_half)
    assert delivery.payload["keys"][0]["id"] == key.key_id
    assert delivery.payload["keys"][0]["percent"] == 50
    assert "Batch" in mail.outbox[0].body


def test_key_spend_rule_scoped_to_a_key_ignores_the_others(org, make_key):
    spender, _ = make_key(org, spend_limit_credits=5)
    quiet, _ = make_key(org, spend_limit_credits=100)
    job_submit(key=spender, prompt="p", options=FIVE)  # 100 % of 5
    scoped = rule_for(org, "key_spend", 80, api_key=quiet)
    everyone = rule_for(org, "key_spend", 80)

    alerts_evaluate(now=timezone.now())

    assert not fired(scoped) and fired(everyone)


def test_keys_without_a_limit_never_fire(org, make_key):
    key, _ = make_key(org)
    job_submit(key=key, prompt="p", options=FIVE)
    rule = rule_for(org, "key_spend", 1)

    alerts_evaluate(now=timezone.now())

    assert not fired(rule)


def test_org_spend_rule_fires_at_n_percent_of_the_monthly_limit(org, make_key):
    credits_spend_limit_set(organization=org, monthly_limit=20, actor=SYSTEM)
    key, _ = make_key(org)
    for _ in range(3):
        job_submit(key=key, prompt="p", options=FIVE)  # 15 of 20: 75 %
    at = rule_for(org, "org_spend", 75)
    above = rule_for(org, "org_spend", 76)

    alerts_evaluate(now=timezone.now())

    assert fired(at) and not fired(above)
    assert AlertDelivery.objects.get(rule=at).payload["spent"] == 15


def test_org_spend_rule_without_a_monthly_limit_stays_quiet(org, make_key):
    key, _ = make_key(org)
    job_submit(key=key, prompt="p", options=FIVE)
    rule = rule_for(org, "org_spend", 1)

    alerts_evaluate(now=timezone.now())

    assert not fired(rule)


def test_another_organizations_spend_does_not_fire_this_ones_rule(make_org, make_key):
    org, other = make_org(), make_org()
    credits_spend_limit_set(organization=org, monthly_limit=10, actor=SYSTEM)
    credits_spend_limit_set(organization=other, monthly_limit=10, actor=SYSTEM)
    theirs, _ = make_key(other)
    job_submit(key=theirs, prompt="p", options=FIVE)
    rule = rule_for(org, "org_spend", 10)

    alerts_evaluate(now=timezone.now())

    assert not fired(rule)


@pytest.mark.parametrize("threshold", [0, 101, -5])
def test_spend_thresholds_are_percentages(org, threshold):
    with pytest.raises(InvalidRequest) as refused:
        rule_for(org, "key_spend", threshold)
    assert "threshold" in refused.value.fields


def test_org_spend_rule_cannot_be_scoped_to_a_key(org, make_key):
    key, _ = make_key(org)
    with pytest.raises(InvalidRequest) as refused:
        rule_for(org, "org_spend", 50, api_key=key)
    assert "api_key" in refused.value.fields
