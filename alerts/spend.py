"""Alert measures for spend, read from the figures of ``jobs`` and ``billing``.

``key_spend`` fires when a key (the rule's, or any of the organization's active keys with a
limit above 0) has spent at least N % of its spend limit in its current period;
``org_spend`` when the organization has spent at least N % of its monthly limit.
"""

from django.utils import timezone

from alerts.measurement import Measurement
from alerts.models import AlertRule
from apikeys.keys.models import ApiKey
from billing.models import CreditAccount
from jobs.selectors import spend_by_key, spend_for_organization, spend_period_start


def _percent(spent: int, limit: int) -> float:
    return round(spent * 100 / limit, 2)


def measure_key_spend(rule: AlertRule, *, now) -> Measurement:
    keys = ApiKey.objects.filter(
        organization=rule.organization,
        status=ApiKey.Status.ACTIVE,
        deleted_at__isnull=True,
        spend_limit_credits__gt=0,
    ).order_by("name", "id")
    if rule.api_key_id is not None:
        keys = keys.filter(pk=rule.api_key_id)
    keys = list(keys)
    spent = spend_by_key(keys=keys, now=now or timezone.now())
    reached = []
    for key in keys:
        percent = _percent(spent[key.pk], key.spend_limit_credits)
        if percent >= rule.threshold:
            reached.append(
                {
                    "id": key.key_id,
                    "name": key.name,
                    "spent": spent[key.pk],
                    "limit": key.spend_limit_credits,
                    "period": key.spend_limit_period,
                    "percent": percent,
                }
            )
    value = max((k["percent"] for k in reached), default=0.0)
    listed = ", ".join(
        f"{k['name']} ({k['id']}) {k['spent']} of {k['limit']} credits this {k['period']}"
        for k in reached[:10]
    )
    return Measurement(
        value,
        bool(reached),
        f"{len(reached)} API key(s) of {rule.organization.name} reached {rule.threshold:g}% "
        f"of their spend limit: {listed}.",
        {"keys": reached},
    )


def measure_org_spend(rule: AlertRule, *, now) -> Measurement:
    organization = rule.organization
    account = CreditAccount.objects.filter(organization=organization).first()
    limit = account.monthly_spend_limit if account else None
    if not limit:
        return Measurement(0.0, False, f"{organization.name} has no monthly spend limit.")
    month_start = spend_period_start(ApiKey.SpendPeriod.MONTH, now)
    spent = spend_for_organization(organization=organization, since=month_start)
    percent = _percent(spent, limit)
    return Measurement(
        percent,
        percent >= rule.threshold,
        f"{organization.name} has spent {spent} of its {limit}-credit monthly limit this month "
        f"({percent:g}%; alert at {rule.threshold:g}%).",
        {"spent": spent, "limit": limit},
    )
