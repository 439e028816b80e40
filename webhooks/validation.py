"""Checks of a webhook endpoint's fields, shared by the services, the pages and the API."""

import unicodedata

from django.conf import settings

from perceptis import outbound
from webhooks.models import Event, WebhookEndpoint


def clean_url(value) -> str:
    """Return the endpoint URL: the checks of every destination URL, https unless relaxed."""
    return outbound.url_check(value, require_https=settings.WEBHOOKS_REQUIRE_HTTPS)


def clean_events(value) -> list[str]:
    """Return the event types, known and without repeats, in the order given."""
    if not isinstance(value, list | tuple) or not value:
        raise ValueError(f"Choose at least one event: {', '.join(Event.values)}.")
    events = []
    for item in value:
        if not isinstance(item, str) or item not in Event.values:
            shown = str(item)[:64] if isinstance(item, str) else type(item).__name__
            raise ValueError(f"Unknown event {shown!r}; events are: {', '.join(Event.values)}.")
        if item not in events:
            events.append(item)
    return events


def clean_description(value) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError("The description is text.")
    value = value.strip()
    if len(value) > 200:
        raise ValueError("The description is at most 200 characters.")
    if any(unicodedata.category(ch) in {"Cc", "Cf", "Zl", "Zp"} for ch in value):
        raise ValueError("The description may not contain control or invisible characters.")
    return value


def clean_environment(value) -> str:
    if value not in WebhookEndpoint.Environment.values:
        raise ValueError("The environment is live or test.")
    return value


def clean_enabled(value) -> bool:
    if not isinstance(value, bool):
        raise ValueError("Enabled is true or false.")
    return value
