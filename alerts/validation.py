"""Checks of the fields of an alert rule, shared by the services, the pages and admin."""

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from accounts.models import Organization
from alerts.models import AlertRule
from apikeys.keys.models import ApiKey
from perceptis import outbound

Metric = AlertRule.Metric
Channel = AlertRule.Channel

# Usage is kept per hour, so usage windows are whole hours; at most 30 days.
MAX_WINDOW_MINUTES = 30 * 24 * 60
# (lowest, highest) threshold per metric, and what the threshold means, for error messages.
THRESHOLD_BOUNDS = {
    Metric.REQUESTS: (0, 10**12, "a number of requests"),
    Metric.ERROR_RATE: (0, 100, "a percentage from 0 to 100"),
    Metric.P95_LATENCY: (0, 600_000, "milliseconds"),
    Metric.CREDITS_BELOW: (0, 10**15, "a number of credits"),
    Metric.KEY_EXPIRING: (1, 365, "a number of days from 1 to 365"),
    Metric.KEY_SPEND: (1, 100, "a percentage of the spend limit from 1 to 100"),
    Metric.ORG_SPEND: (1, 100, "a percentage of the monthly limit from 1 to 100"),
}
# Rules that are about the organization as a whole and cannot be scoped to one key.
ORG_ONLY_METRICS = {Metric.CREDITS_BELOW, Metric.ORG_SPEND}


def _number(value, what: str) -> float:
    if isinstance(value, bool):
        raise ValueError(f"{what} must be a number.")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be a number.") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise ValueError(f"{what} must be a number.")
    return number


def clean_threshold(value, metric: str | None) -> float:
    number = _number(value, "The threshold")
    if metric not in THRESHOLD_BOUNDS:
        return number  # The metric's own error is reported.
    low, high, meaning = THRESHOLD_BOUNDS[metric]
    if not low <= number <= high:
        raise ValueError(f"The threshold is {meaning}, between {low} and {high}.")
    if metric == Metric.KEY_EXPIRING and number != int(number):
        raise ValueError("The threshold is a whole number of days.")
    return number


def clean_window(value) -> int:
    number = _number(value, "The window")
    if number != int(number) or number < 60 or number > MAX_WINDOW_MINUTES:
        raise ValueError(
            f"The window is a whole number of minutes from 60 to {MAX_WINDOW_MINUTES}."
        )
    if int(number) % 60:
        raise ValueError("Usage is counted per hour: the window must be a multiple of 60 minutes.")
    return int(number)


def clean_destination(channel: str | None, value) -> str:
    """Return the destination for the channel: an email address, or an http(s) URL."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError("Give an email address or URL to deliver alerts to.")
    value = value.strip()
    if len(value) > 500:
        raise ValueError("The destination is at most 500 characters.")
    if channel == Channel.EMAIL:
        try:
            validate_email(value)
        except ValidationError:
            raise ValueError("Enter a valid email address.") from None
        return value
    if channel in (Channel.WEBHOOK, Channel.SLACK):
        # The same checks as every destination URL (job webhooks too).
        return outbound.url_check(value)
    return value  # The channel's own error is reported.


def clean_api_key(value, organization: Organization, metric: str | None) -> ApiKey | None:
    if value in (None, ""):
        return None
    if metric in ORG_ONLY_METRICS:
        raise ValueError("This metric is about the whole organization; leave the key empty.")
    if isinstance(value, ApiKey):
        key_id = value.key_id
    elif isinstance(value, str):
        key_id = value
    else:
        raise ValueError("Choose one of the organization's keys.")
    key = ApiKey.objects.filter(
        organization=organization, key_id=key_id, deleted_at__isnull=True
    ).first()
    if key is None:
        raise ValueError("Choose one of the organization's keys.")
    return key
