"""The shape of ``GET /api/v1/usage``."""

from rest_framework import serializers

from accounts.models import PROJECT_ID_PATTERN
from apikeys.keys.models import ApiKey
from perceptis.fields import QuerySerializer


class UsageFiguresSerializer(serializers.Serializer):
    requests = serializers.IntegerField()
    errors = serializers.IntegerField()
    error_rate = serializers.FloatField(help_text="Errors (4xx and 5xx) over requests.")
    p50_ms = serializers.FloatField(allow_null=True)
    p95_ms = serializers.FloatField(allow_null=True)


class UsageWindowsSerializer(serializers.Serializer):
    # "24h" is not a Python name; the fields are declared below.
    pass


UsageWindowsSerializer._declared_fields.update(
    {name: UsageFiguresSerializer() for name in ("24h", "7d", "30d")}
)


class KeyUsageSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    type = serializers.ChoiceField(choices=ApiKey.Type.choices)
    status = serializers.ChoiceField(choices=ApiKey.Status.choices)
    usage = UsageWindowsSerializer()


class CreditsSerializer(serializers.Serializer):
    balance = serializers.IntegerField()


class UsageQuerySerializer(QuerySerializer):
    project = serializers.RegexField(
        PROJECT_ID_PATTERN,
        required=False,
        max_length=40,
        help_text="Only this project's keys (`proj_…`). A key sees only its own project: "
        "another project's id reports nothing.",
    )


class UsageReportSerializer(serializers.Serializer):
    as_of = serializers.DateTimeField()
    credits = CreditsSerializer()
    totals = UsageWindowsSerializer(help_text="The keys of the acting key's project together.")
    keys = KeyUsageSerializer(many=True)
