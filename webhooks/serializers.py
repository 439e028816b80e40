"""Shapes of webhook endpoints and deliveries in the API, and the checks on request bodies.

Serializers check types and refuse unknown fields; what a value may be (an allowed URL, known
events) is checked by the services, which the pages share.
"""

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from perceptis.fields import (
    QuerySerializer,
    RejectUnknownFieldsMixin,
    StrictCharField,
    StrictListField,
)
from webhooks.models import Event, WebhookDelivery

# Far above any valid value: the services give the precise message.
_MAX_TEXT = 2000


class StrictBooleanField(serializers.BooleanField):
    """A JSON ``true`` or ``false``; not ``"yes"``, ``1`` or ``"on"``."""

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid", input=str(data)[:64])
        return data


class EndpointSerializer(serializers.Serializer):
    """An endpoint as clients see it; never its signing secret."""

    id = serializers.CharField(source="public_id", help_text="The endpoint id, e.g. we_3kT9…")
    url = serializers.CharField()
    description = serializers.CharField()
    events = serializers.ListField(child=serializers.ChoiceField(choices=Event.choices))
    enabled = serializers.BooleanField()
    # Plain text in the schema: the same choices as a key's type, under another field name.
    environment = serializers.CharField(
        help_text="live or test: the environment of the key that registered it."
    )
    project = serializers.CharField(
        source="project_id",
        allow_null=True,
        help_text=(
            "The project whose events it receives (proj_…): the registering key's project; "
            "null for an endpoint of every project, made on the Webhooks page."
        ),
    )
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class EndpointWithSecretSerializer(EndpointSerializer):
    """An endpoint with its signing secret, in the create and rotate responses only."""

    secret = serializers.SerializerMethodField(
        help_text="The signing secret (whsec_…). Shown once: store it now."
    )

    def get_secret(self, obj) -> str:
        return self.context["secret"]


class PageQuerySerializer(QuerySerializer):
    limit = serializers.IntegerField(
        required=False, min_value=1, max_value=100, help_text="Items per page (default 20)."
    )
    cursor = serializers.CharField(required=False, help_text="From the previous page's next.")


class EndpointPageSerializer(serializers.Serializer):
    results = EndpointSerializer(many=True)
    next = serializers.CharField(allow_null=True)


# What the services accept (``webhooks.validation``), as far as a schema can say it; the address
# and port rules, and invisible characters, are checked there.
@extend_schema_field(
    {
        "type": "string",
        "format": "uri",
        "maxLength": 500,
        "pattern": "^https://" if settings.WEBHOOKS_REQUIRE_HTTPS else "^https?://",
    }
)
class _UrlField(StrictCharField):
    pass


@extend_schema_field(
    serializers.ListField(
        child=serializers.ChoiceField(choices=Event.choices), min_length=1, max_length=20
    )
)
class _EventsField(StrictListField):
    pass


@extend_schema_field({"type": "string", "maxLength": 200})
class _DescriptionField(StrictCharField):
    pass


class EndpointCreateSerializer(RejectUnknownFieldsMixin, serializers.Serializer):
    url = _UrlField(max_length=_MAX_TEXT, help_text="An https URL.")
    events = _EventsField(
        child=StrictCharField(max_length=64), max_length=20, help_text=", ".join(Event.values)
    )
    description = _DescriptionField(required=False, allow_blank=True, max_length=_MAX_TEXT)
    enabled = StrictBooleanField(required=False)


class EndpointChangeSerializer(EndpointCreateSerializer):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.required = False


class DeliverySerializer(serializers.Serializer):
    id = serializers.CharField(
        source="public_id", help_text="The message id: the webhook-id header of every attempt."
    )
    event_type = serializers.CharField()
    status = serializers.ChoiceField(choices=WebhookDelivery.Status.choices)
    attempts = serializers.IntegerField()
    last_attempt_at = serializers.DateTimeField(allow_null=True)
    last_response_status = serializers.IntegerField(
        allow_null=True, help_text="The receiver's HTTP status; null when none came back."
    )
    last_duration_ms = serializers.IntegerField(allow_null=True)
    last_error = serializers.CharField(
        help_text="Why the last attempt failed; empty if it did not."
    )
    next_attempt_at = serializers.DateTimeField(allow_null=True)
    delivered_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()


class DeliveryPageSerializer(serializers.Serializer):
    results = DeliverySerializer(many=True)
    next = serializers.CharField(allow_null=True)
