"""Shapes of keys and usage in the API, and the checks on request bodies.

Serializers check types and refuse unknown fields; what a value may be (a name, a CIDR, a future
expiry, a rate limit within the plan) is checked by the services, which every caller shares.
"""

from datetime import UTC, datetime

from django.conf import settings
from django.utils import timezone
from rest_framework import serializers

from accounts.models import PROJECT_ID_PATTERN
from apikeys.keys.models import ApiKey, Permission
from perceptis.fields import (
    QuerySerializer,
    RejectUnknownFieldsMixin,
    StrictCharField,
    StrictIntegerField,
    StrictListField,
)


class IsoDateTimeField(serializers.DateTimeField):
    """Any ISO 8601 date or time (``Z``, offsets, basic format, a bare date); naive means UTC."""

    def to_internal_value(self, value):
        if not isinstance(value, str):
            self.fail("invalid", format="ISO 8601")
        try:
            return super().to_internal_value(value)
        except serializers.ValidationError:
            pass
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            self.fail("invalid", format="ISO 8601, e.g. 2027-01-01T00:00:00Z")
        if timezone.is_naive(parsed):
            parsed = parsed.replace(tzinfo=UTC)
        return self.enforce_timezone(parsed)


class KeySerializer(serializers.Serializer):
    """A key as clients see it; never its secret or hash."""

    id = serializers.CharField(source="key_id", help_text="The Key ID, e.g. key_7Hq2…")
    project = serializers.CharField(
        source="project_id", help_text="The project the key belongs to (`proj_…`)."
    )
    name = serializers.CharField()
    hint = serializers.CharField(help_text="The key's start and last four characters.")
    type = serializers.ChoiceField(choices=ApiKey.Type.choices)
    environment = serializers.ChoiceField(choices=ApiKey.Environment.choices)
    permissions = serializers.ListField(child=serializers.ChoiceField(Permission.choices))
    status = serializers.ChoiceField(choices=ApiKey.Status.choices, source="effective_status")
    rate_limit_per_minute = serializers.IntegerField(
        source="effective_rate_limit",
        help_text="Requests per minute in force: the plan's, or the key's own lower limit.",
    )
    ip_allowlist = serializers.ListField(child=serializers.CharField())
    spend_limit_credits = serializers.IntegerField(
        allow_null=True, help_text="Credits the key may spend per period; null: no limit."
    )
    spend_limit_period = serializers.ChoiceField(choices=ApiKey.SpendPeriod.choices)
    allowed_models = serializers.ListField(
        child=serializers.CharField(),
        help_text="Models (from `GET /api/v1/models`) the key's jobs may use; empty: every "
        "model the plan allows.",
    )
    expires_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    last_used_at = serializers.DateTimeField(allow_null=True)
    last_used_ip = serializers.IPAddressField(allow_null=True)
    revoked_reason = serializers.ChoiceField(
        choices=ApiKey.RevokedReason.choices,
        allow_null=True,
        help_text="Why a revoked key was revoked: `requested`, or `exposed` when it was "
        "reported found in public; null for keys not revoked.",
    )
    exposure_source = serializers.ChoiceField(
        choices=ApiKey.ExposureSource.choices,
        allow_null=True,
        help_text="Who reported an exposed key; null otherwise.",
    )
    exposure_url = serializers.CharField(
        allow_null=True, help_text="Where an exposed key was found, when the report said."
    )

    def to_representation(self, instance):
        data = super().to_representation(instance)
        for name in ("revoked_reason", "exposure_source", "exposure_url"):
            data[name] = data[name] or None  # blank in the database: none
        return data


class KeyWithSecretSerializer(KeySerializer):
    """A key with its plaintext, in the create and rotate responses only."""

    key = serializers.SerializerMethodField(
        help_text="The plaintext key. Shown once: store it now; it cannot be shown again."
    )

    def get_key(self, obj) -> str:
        return self.context["plaintext"]


class KeyChangeSerializer(RejectUnknownFieldsMixin, serializers.Serializer):
    name = StrictCharField(required=False, allow_blank=True, trim_whitespace=False)
    permissions = StrictListField(
        child=serializers.ChoiceField(choices=Permission.choices), required=False
    )
    rate_limit_per_minute = StrictIntegerField(
        required=False,
        allow_null=True,
        help_text="Lower the plan's limit for this key; null restores the plan's limit.",
    )
    expires_at = IsoDateTimeField(
        required=False, allow_null=True, help_text="A future ISO 8601 time; null: never."
    )
    ip_allowlist = StrictListField(
        child=StrictCharField(max_length=100),
        required=False,
        allow_null=True,
        help_text="Addresses or CIDR ranges; empty or null: any address.",
    )
    spend_limit_credits = StrictIntegerField(
        required=False,
        allow_null=True,
        help_text="Credits the key's jobs may reserve and be charged per period; null: none.",
    )
    spend_limit_period = serializers.ChoiceField(
        choices=ApiKey.SpendPeriod.choices,
        required=False,
        help_text="day or month (UTC), or total; month by default.",
    )
    project = StrictCharField(
        required=False,
        max_length=40,
        help_text="The key's project (`proj_…`); on create, the acting key's project when "
        "omitted. A key reaches only its own project (`403 exceeds_own_privileges`).",
    )
    allowed_models = StrictListField(
        child=StrictCharField(max_length=100),
        required=False,
        allow_null=True,
        max_length=100,
        help_text="Model names from the price table the key's jobs may use (a job naming "
        "another is `400 model_not_available`); empty or null: every model the plan allows.",
    )


class KeyCreateSerializer(KeyChangeSerializer):
    name = StrictCharField(allow_blank=True, trim_whitespace=False)
    type = serializers.ChoiceField(choices=ApiKey.Type.choices, required=False)
    environment = serializers.ChoiceField(choices=ApiKey.Environment.choices, required=False)


class KeyRotateSerializer(RejectUnknownFieldsMixin, serializers.Serializer):
    grace_period_seconds = StrictIntegerField(
        required=False,
        min_value=0,
        max_value=settings.APIKEYS_MAX_ROTATION_GRACE_SECONDS,
        help_text="Seconds the old secret keeps working (at most "
        "APIKEYS_MAX_ROTATION_GRACE_SECONDS, 7 days by default); 0 stops it at once.",
    )


class KeyListQuerySerializer(QuerySerializer):
    status = serializers.ChoiceField(choices=ApiKey.Status.choices, required=False)
    type = serializers.ChoiceField(choices=ApiKey.Type.choices, required=False)
    environment = serializers.ChoiceField(choices=ApiKey.Environment.choices, required=False)
    project = serializers.RegexField(
        PROJECT_ID_PATTERN,
        required=False,
        max_length=40,
        help_text="Only keys of this project (`proj_…`); a key sees only its own project's.",
    )
    limit = serializers.IntegerField(
        required=False, min_value=1, max_value=100, help_text="Keys per page (default 20)."
    )
    cursor = serializers.CharField(required=False, help_text="From the previous page's next.")


class KeyPageSerializer(serializers.Serializer):
    results = KeySerializer(many=True)
    next = serializers.URLField(allow_null=True)
