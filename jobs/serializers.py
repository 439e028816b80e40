"""The jobs API's request and response shapes: generate, status, list, cancel, models."""

import json

from django.conf import settings
from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from jobs.models import Job
from jobs.status import job_status_body
from perceptis.fields import RejectUnknownFieldsMixin, StrictCharField, StrictDictField

MAX_OPTIONS_BYTES = 16 * 1024


class GenerateRequestSerializer(RejectUnknownFieldsMixin, serializers.Serializer):
    prompt = StrictCharField(max_length=settings.JOBS_MAX_PROMPT_CHARS, trim_whitespace=False)
    options = StrictDictField(
        required=False,
        allow_empty=True,
        help_text=(
            "`model`: a model id from `GET /api/v1/models` (default: the plan's default model); "
            "`max_tokens`: a whole number from 1 to the model's `max_output_tokens` (default: "
            "that maximum); engine options such as `temperature`, `top_p`, `stop`, `seed`."
        ),
    )

    def validate_prompt(self, value):
        if not value.strip():
            raise serializers.ValidationError("The prompt is empty.")
        return value

    def validate_options(self, value):
        if len(json.dumps(value)) > MAX_OPTIONS_BYTES:
            raise serializers.ValidationError(f"Options are at most {MAX_OPTIONS_BYTES} bytes.")
        return value


class JobErrorSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()


class JobUsageSerializer(serializers.Serializer):
    input_tokens = serializers.IntegerField()
    output_tokens = serializers.IntegerField()


class JobResultSerializer(serializers.Serializer):
    """What the engines return (``jobs.engines``)."""

    text = serializers.CharField(help_text="The generated text.")
    model = serializers.CharField(help_text="The model that answered, as the engine names it.")
    usage = serializers.DictField(
        help_text="The tokens used, as the engine reported them "
        "(`input_tokens`, `output_tokens`, or `prompt_tokens`, `completion_tokens`, ...)."
    )
    finish_reason = serializers.CharField(
        required=False, allow_null=True, help_text="Why generation stopped, where the engine says."
    )
    watermark = serializers.BooleanField(
        required=False, help_text="True on a test key's result, whose text is marked."
    )


@extend_schema_field(JobResultSerializer)
class JobResultField(serializers.JSONField):
    """The stored result as the engine returned it; the schema describes it as
    ``JobResultSerializer``."""


class JobSerializer(serializers.ModelSerializer):
    """The job's status body: its fields declare the schema, ``job_status_body`` renders it."""

    error = JobErrorSerializer(allow_null=True, read_only=True)
    result = JobResultField(
        allow_null=True, read_only=True, help_text="Null until the job has succeeded."
    )
    usage = JobUsageSerializer(allow_null=True, read_only=True)
    project = serializers.CharField(
        source="project_id",
        read_only=True,
        help_text="The project (`proj_…`) of the key that submitted the job, when it did.",
    )
    cancel_requested = serializers.BooleanField(
        read_only=True,
        help_text=(
            "Whether a cancel was asked for (`POST /api/v1/jobs/{job_id}/cancel`): a running "
            "job stays `running` until its worker stops it, then becomes `canceled`."
        ),
    )

    class Meta:
        model = Job
        fields = [
            "job_id",
            "project",
            "status",
            "created_at",
            "started_at",
            "finished_at",
            "result",
            "error",
            "model",
            "usage",
            "credits_reserved",
            "credits_charged",
            "test",
            "cancel_requested",
        ]
        read_only_fields = fields

    def to_representation(self, instance):
        return job_status_body(instance)


class SubmittedJobSerializer(JobSerializer):
    status_url = serializers.SerializerMethodField()

    class Meta(JobSerializer.Meta):
        fields = [*JobSerializer.Meta.fields, "status_url"]
        read_only_fields = fields

    def get_status_url(self, job) -> str:
        return reverse("api-status", args=[job.job_id])

    def to_representation(self, instance):
        return {**job_status_body(instance), "status_url": self.get_status_url(instance)}


class ModelEntrySerializer(serializers.Serializer):
    id = serializers.CharField(source="model")
    input_credits_per_1k_tokens = serializers.DecimalField(
        max_digits=12, decimal_places=4, coerce_to_string=False
    )
    output_credits_per_1k_tokens = serializers.DecimalField(
        max_digits=12, decimal_places=4, coerce_to_string=False
    )
    max_output_tokens = serializers.IntegerField()


class ModelListSerializer(serializers.Serializer):
    results = ModelEntrySerializer(many=True)
    next = serializers.CharField(allow_null=True)


class JobListQuerySerializer(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=Job.Status.choices, required=False, help_text="Only jobs in this status."
    )
    created_after = serializers.DateTimeField(
        required=False, help_text="Only jobs submitted at or after this time (ISO 8601)."
    )
    created_before = serializers.DateTimeField(
        required=False, help_text="Only jobs submitted at or before this time (ISO 8601)."
    )
    limit = serializers.IntegerField(
        required=False, min_value=1, max_value=100, help_text="Jobs per page (default 20)."
    )
    cursor = serializers.CharField(required=False, help_text="From the previous page's next.")


class JobPageSerializer(serializers.Serializer):
    results = JobSerializer(many=True)
    next = serializers.URLField(allow_null=True)
