"""How many alert rules an organization may have."""

from django.conf import settings

from accounts.models import Organization
from alerts.models import AlertRule
from perceptis.errors import InvalidRequest


def alertrule_check_limit(*, organization: Organization) -> None:
    """Refuse a new rule past ``APIKEYS_ALERT_MAX_RULES`` (50) with ``InvalidRequest``.

    Every rule is evaluated each minute and may deliver, so their number is bounded. Call it in
    the creating transaction: the organization's row is locked for the count, so concurrent
    creations cannot pass the limit together.
    """
    Organization.objects.select_for_update().filter(pk=organization.pk).first()
    limit = settings.APIKEYS_ALERT_MAX_RULES
    if AlertRule.objects.filter(organization=organization).count() >= limit:
        message = f"An organization has at most {limit} alert rules; delete one to add another."
        raise InvalidRequest(message, fields={"name": [message]})
