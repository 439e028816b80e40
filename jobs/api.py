"""``POST /api/v1/generate`` and ``GET /api/v1/status/{job_id}``."""

import json

from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from apikeys.keys.models import Permission
from apikeys.keys.pipeline import ANY_KEY
from billing.errors import (
    InsufficientCredits,
    ModelNotAvailable,
    OrgSpendLimitReached,
    SpendLimitReached,
)
from billing.prices import prices_for_plan
from jobs.errors import IdempotencyKeyReused, JobNotFound, TooManyJobsInFlight
from jobs.models import Job
from jobs.services import job_get_for_key, job_submit
from jobs.services.submission import IDEMPOTENCY_KEY_MAX_LENGTH, IDEMPOTENCY_KEY_PATTERN
from perceptis.errors import json_body
from perceptis.fields import RejectUnknownFieldsMixin, StrictCharField, StrictDictField

MAX_OPTIONS_BYTES = 16 * 1024

JOB_ID_PARAMETER = OpenApiParameter(
    "job_id",
    location=OpenApiParameter.PATH,
    type=str,
    description="The job's id (`job_...`), from the generate response.",
)


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


class JobSerializer(serializers.ModelSerializer):
    error = JobErrorSerializer(allow_null=True, read_only=True)
    result = JobResultSerializer(
        allow_null=True, read_only=True, help_text="Null until the job has succeeded."
    )
    usage = JobUsageSerializer(allow_null=True, read_only=True)

    class Meta:
        model = Job
        fields = [
            "job_id",
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
        ]
        read_only_fields = fields


class SubmittedJobSerializer(JobSerializer):
    status_url = serializers.SerializerMethodField()

    class Meta(JobSerializer.Meta):
        fields = [*JobSerializer.Meta.fields, "status_url"]
        read_only_fields = fields

    def get_status_url(self, job) -> str:
        return reverse("api-status", args=[job.job_id])


def _iso_datetime(value) -> str | None:
    # As DRF's DateTimeField renders it: in the current time zone, UTC written as "Z".
    if value is None:
        return None
    text = value.astimezone(timezone.get_current_timezone()).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def job_status_body(job: Job) -> dict:
    """Return the status response body of ``job``: ``JobSerializer``'s output, built directly.

    Status is the most frequent request; building the body by hand costs a fraction of
    instantiating the serializer and its fields on every poll.
    """
    return {
        "job_id": job.job_id,
        "status": job.status,
        "created_at": _iso_datetime(job.created_at),
        "started_at": _iso_datetime(job.started_at),
        "finished_at": _iso_datetime(job.finished_at),
        "result": job.result,
        "error": job.error,
        "model": job.model,
        "usage": job.usage,
        "credits_reserved": job.credits_reserved,
        "credits_charged": job.credits_charged,
        "test": job.test,
    }


class GenerateView(APIView):
    required_permission = Permission.JOBS_WRITE
    schema_tag = "Jobs"
    errors = (
        ModelNotAvailable,
        TooManyJobsInFlight,
        SpendLimitReached,
        OrgSpendLimitReached,
        InsufficientCredits,
        IdempotencyKeyReused,
    )
    schema_links = {"POST": {"job_status": {"job_id": "$response.body#/job_id"}}}

    @extend_schema(
        operation_id="generate",
        summary="Submit a generation job",
        description=(
            "Price the job from `options.model` (default: the plan's default model, see "
            "`GET /api/v1/models`) and `options.max_tokens` (default and maximum: the model's), "
            "reserve the most it can cost (none for test keys, whose jobs run on the offline "
            "engine), create the job and queue it. On success the job is charged the tokens "
            "the engine reported, never more than `credits_reserved`, and the rest comes back. "
            "Answer 202 with the job and `Location: /api/v1/status/{job_id}`. With an "
            "`Idempotency-Key`, the same key and body within 24 hours return the original job."
        ),
        request=GenerateRequestSerializer,
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                location=OpenApiParameter.HEADER,
                required=False,
                type={
                    "type": "string",
                    "minLength": 1,
                    "maxLength": IDEMPOTENCY_KEY_MAX_LENGTH,
                    "pattern": IDEMPOTENCY_KEY_PATTERN,
                },
                description="1 to 255 printable ASCII characters without spaces. The same key "
                "and body within 24 hours return the original job; the same key with another "
                "body is 422 `idempotency_key_reused`.",
            ),
            OpenApiParameter(
                "Location",
                location=OpenApiParameter.HEADER,
                response=[202],
                required=True,
                type={"type": "string", "format": "uri-reference"},
                description="The job's status URL, `/api/v1/status/{job_id}`.",
            ),
            OpenApiParameter(
                "Idempotent-Replayed",
                location=OpenApiParameter.HEADER,
                response=[202],
                required=False,
                type={"type": "string", "enum": ["true"]},
                description="Sent when an earlier request with the same Idempotency-Key made "
                "this job; nothing new was charged.",
            ),
        ],
        responses={202: SubmittedJobSerializer},
    )
    def post(self, request):
        serializer = GenerateRequestSerializer(data=json_body(request))
        serializer.is_valid(raise_exception=True)
        submission = job_submit(
            key=request.auth,
            prompt=serializer.validated_data["prompt"],
            options=serializer.validated_data.get("options") or {},
            idempotency_key=request.headers.get("Idempotency-Key"),
        )
        body = SubmittedJobSerializer(submission.job).data
        response = Response(body, status=status.HTTP_202_ACCEPTED)
        response["Location"] = body["status_url"]
        if submission.replayed:
            response["Idempotent-Replayed"] = "true"
        return response


class StatusView(APIView):
    required_permission = Permission.JOBS_READ
    schema_tag = "Jobs"
    errors = (JobNotFound,)

    @extend_schema(
        operation_id="job_status",
        summary="Get a job's status and result",
        description=(
            "Return the job's status, timestamps, result or error and the credits charged. "
            "Only the key that created the job sees it; any other id is 404 `job_not_found`."
        ),
        parameters=[JOB_ID_PARAMETER],
        responses={200: JobSerializer},
    )
    def get(self, request, job_id: str):
        job = job_get_for_key(key=request.auth, job_id=job_id)
        return Response(job_status_body(job))


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


class ModelsView(APIView):
    required_permission = ANY_KEY
    schema_tag = "Models"

    @extend_schema(
        operation_id="models",
        summary="List the models this key's plan may use, with their prices",
        description=(
            "Prices are credits per 1,000 tokens. A job reserves "
            "`ceil(input tokens × input price / 1000 + max_tokens × output price / 1000)` "
            "(at least 1) and is charged the same on the tokens it used."
        ),
        responses={200: ModelListSerializer},
    )
    def get(self, request):
        prices = prices_for_plan(plan=request.auth.organization.plan)
        return Response({"results": ModelEntrySerializer(prices, many=True).data, "next": None})
