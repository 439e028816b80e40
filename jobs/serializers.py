"""The jobs API's request and response shapes: generate, status, list, cancel, models, costs."""

import json
from datetime import UTC, datetime

from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.models import PROJECT_ID_PATTERN
from apikeys.keys.serializers import IsoDateTimeField
from jobs import costs
from jobs.models import Job
from jobs.status import job_status_body
from perceptis.fields import (
    QuerySerializer,
    RejectUnknownFieldsMixin,
    StrictCharField,
    StrictDictField,
)

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


class JobListQuerySerializer(QuerySerializer):
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


# --- GET /api/v1/usage/costs -------------------------------------------------------------------

# Dates outside these are refused rather than computed with (year 1 or 9999 overflow).
COSTS_EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
COSTS_LATEST = datetime(2100, 1, 1, tzinfo=UTC)


class CostsQuerySerializer(QuerySerializer):
    start = IsoDateTimeField(
        help_text="ISO 8601, UTC when no offset is given; rounded down to its hour or day."
    )
    end = IsoDateTimeField(
        required=False,
        help_text="ISO 8601, exclusive; rounded up to a whole hour or day. Default: now.",
    )
    bucket = serializers.ChoiceField(
        choices=list(costs.BUCKETS),
        required=False,
        default="day",
        help_text=f"`hour` (at most {costs.MAX_BUCKETS['hour']} buckets, 7 days) or `day` "
        f"(at most {costs.MAX_BUCKETS['day']}); default `day`. Buckets are UTC hours or days.",
    )
    group_by = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=100,
        help_text="`key`, `model` or `key,model`; none: one row per bucket (and one more for "
        "test keys' jobs, if any).",
    )

    project = serializers.RegexField(
        PROJECT_ID_PATTERN,
        required=False,
        max_length=40,
        help_text="Only this project's jobs (`proj_…`). A key sees only its own project's "
        "jobs: another project's id reports nothing.",
    )

    def validate_group_by(self, value: str) -> tuple[str, ...]:
        names = {part.strip() for part in value.split(",") if part.strip()}
        unknown = sorted(names - set(costs.GROUPS))
        if unknown:
            raise serializers.ValidationError(
                f"Group by {' or '.join(costs.GROUPS)}, comma-separated; not {unknown[0][:20]!r}."
            )
        return tuple(name for name in costs.GROUPS if name in names)

    def validate(self, data):
        start, end = data["start"], data.get("end") or timezone.now()
        for name, moment in (("start", start), ("end", end)):
            if not COSTS_EARLIEST <= moment < COSTS_LATEST:
                raise serializers.ValidationError({name: ["A time from 2000 to 2099."]})
        if end <= start:
            raise serializers.ValidationError({"end": ["The end must be after the start."]})
        bucket = data["bucket"]
        start, end = costs.bucket_bounds(start, end, bucket)
        query = costs.CostQuery(
            start=start,
            end=end,
            bucket=bucket,
            group_by=data.get("group_by", ()),
            project=data.get("project"),
        )
        maximum = costs.MAX_BUCKETS[bucket]
        if query.bucket_count > maximum:
            span = "7 days of hour buckets" if bucket == "hour" else "31 days of day buckets"
            raise serializers.ValidationError(
                {
                    "end": [
                        f"At most {span} ({maximum} buckets); this asks for {query.bucket_count}."
                    ]
                }
            )
        return query


class CostResultSerializer(serializers.Serializer):
    key_id = serializers.CharField(
        allow_null=True, help_text="The Key ID, when grouped by key; null otherwise."
    )
    key_name = serializers.CharField(allow_null=True, help_text="The key's name, with key_id.")
    model = serializers.CharField(
        allow_null=True, help_text="The model, when grouped by model; null otherwise."
    )
    test = serializers.BooleanField(help_text="Test keys' jobs (free: 0 credits) are own rows.")
    credits = serializers.IntegerField(
        help_text="The ledger's net for these jobs: charged once finished (what a capture or "
        "release gave back is not counted), held while queued or running."
    )
    jobs = serializers.IntegerField(help_text="Jobs submitted in the bucket.")
    input_tokens = serializers.IntegerField()
    output_tokens = serializers.IntegerField()


class CostBucketSerializer(serializers.Serializer):
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    results = CostResultSerializer(many=True, help_text="Empty when nothing was submitted.")


class CostTotalsSerializer(serializers.Serializer):
    credits = serializers.IntegerField()
    jobs = serializers.IntegerField()
    input_tokens = serializers.IntegerField()
    output_tokens = serializers.IntegerField()


class CostReportSerializer(serializers.Serializer):
    start = serializers.DateTimeField(help_text="The first bucket's start.")
    end = serializers.DateTimeField(help_text="The last bucket's end (exclusive).")
    bucket = serializers.ChoiceField(choices=list(costs.BUCKETS))
    group_by = serializers.ListField(child=serializers.ChoiceField(choices=list(costs.GROUPS)))
    buckets = CostBucketSerializer(many=True)
    totals = CostTotalsSerializer()
