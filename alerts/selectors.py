"""Reads of alert rules and deliveries, always scoped to one organization."""

from django.db.models import OuterRef, Subquery
from django.http import Http404

from accounts.models import Organization
from alerts.models import AlertDelivery, AlertRule


def alertrule_list(*, organization: Organization):
    """Return the organization's rules with their latest firing's ``latest_status``,
    ``latest_attempts`` and ``latest_fired_at`` (all None before the first)."""
    latest = AlertDelivery.objects.filter(rule=OuterRef("pk")).order_by("-fired_at", "-pk")
    return (
        AlertRule.objects.filter(organization=organization)
        .select_related("api_key")
        .annotate(
            latest_status=Subquery(latest.values("status")[:1]),
            latest_attempts=Subquery(latest.values("attempts")[:1]),
            latest_fired_at=Subquery(latest.values("fired_at")[:1]),
        )
        .order_by("name", "pk")
    )


def alertrule_get(*, organization: Organization, pk: int) -> AlertRule:
    """Return the organization's rule, or raise ``Http404`` (also for another organization's)."""
    rule = AlertRule.objects.filter(organization=organization, pk=pk).select_related("api_key")
    rule = rule.first()
    if rule is None:
        raise Http404("No such alert rule.")
    return rule


def alertdelivery_recent(*, rule: AlertRule, limit: int = 20):
    return rule.deliveries.order_by("-fired_at", "-pk")[:limit]
