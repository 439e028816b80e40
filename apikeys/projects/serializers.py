"""The shape of ``GET /api/v1/projects``."""

from rest_framework import serializers


class ProjectSerializer(serializers.Serializer):
    id = serializers.CharField(source="project_id", help_text="The project's id (`proj_…`).")
    name = serializers.CharField()
    default = serializers.BooleanField(
        source="is_default", help_text="Whether this is the organization's Default project."
    )
    archived = serializers.BooleanField(source="is_archived")
    monthly_spend_limit = serializers.IntegerField(
        allow_null=True, help_text="Credits the project's jobs may use per UTC month; null: none."
    )
    spend_this_month = serializers.IntegerField(
        help_text="Credits the project's jobs submitted this UTC month hold or were charged."
    )
    rate_limit_ceiling = serializers.IntegerField(
        allow_null=True,
        help_text="The highest requests per minute a key of the project may have; null: the "
        "plan's.",
    )
    created_at = serializers.DateTimeField()


class ProjectPageSerializer(serializers.Serializer):
    results = ProjectSerializer(many=True)
    next = serializers.URLField(allow_null=True)
