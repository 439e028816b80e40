"""The jobs API: generate, status, the key's job list, cancel, the models it may use, and the
organization's costs by key, model and hour or day."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.audit import Actor
from apikeys.keys import keycache, readmodels
from apikeys.keys.fallback import shared_call
from apikeys.keys.models import ApiKey, Permission
from apikeys.keys.pipeline import ANY_KEY, request_state
from billing.errors import (
    InsufficientCredits,
    ModelNotAvailable,
    OrgSpendLimitReached,
    ProjectSpendLimitReached,
    SpendLimitReached,
)
from billing.prices import prices_for_plan
from jobs.costs import costs_report
from jobs.errors import (
    IdempotencyKeyReused,
    JobNotCancelable,
    JobNotFound,
    TooManyJobsInFlight,
)
from jobs.selectors import jobs_list
from jobs.serializers import (
    CostReportSerializer,
    CostsQuerySerializer,
    GenerateRequestSerializer,
    JobListQuerySerializer,
    JobPageSerializer,
    JobSerializer,
    ModelEntrySerializer,
    ModelListSerializer,
    SubmittedJobSerializer,
)
from jobs.services import job_cancel, job_get_for_key, job_submit
from jobs.services.submission import IDEMPOTENCY_KEY_MAX_LENGTH, IDEMPOTENCY_KEY_PATTERN
from jobs.status import job_status_body, job_status_store, read_model_name
from perceptis.pagination import NextCursorPagination
from perceptis.parsers import json_body

JOB_ID_PARAMETER = OpenApiParameter(
    "job_id",
    location=OpenApiParameter.PATH,
    type=str,
    description="The job's id (`job_...`), from the generate response or the job list.",
)


class GenerateView(APIView):
    required_permission = Permission.JOBS_WRITE
    schema_tag = "Jobs"
    errors = (
        ModelNotAvailable,
        TooManyJobsInFlight,
        SpendLimitReached,
        ProjectSpendLimitReached,
        OrgSpendLimitReached,
        InsufficientCredits,
        IdempotencyKeyReused,
    )
    schema_links = {
        "POST": {
            "job_status": {"job_id": "$response.body#/job_id"},
            "jobs_cancel": {"job_id": "$response.body#/job_id"},
        }
    }

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
        key = request.auth
        name = read_model_name(job_id)
        body = request_state(request).read_model
        if body is None and name and not keycache.enabled():
            body = shared_call(
                readmodels.read_model_get,
                key.organization_id,
                key.pk,
                name,
                on=readmodels.stored_name(key.organization_id, key.pk, name),
            )
        if body is not None:
            return Response(body)
        # A miss: the database answers, and the body read is stored (versioned, so a poll that
        # read an older state than a transition's write does not replace it).
        job = job_get_for_key(key=key, job_id=job_id)
        job_status_store(job)
        return Response(job_status_body(job))

    @staticmethod
    def read_model(kwargs) -> str:
        """The cached status body a poll may be answered from (``jobs.status``)."""
        return read_model_name(kwargs.get("job_id"))


class JobListView(APIView):
    required_permission = Permission.JOBS_READ
    schema_tag = "Jobs"

    @extend_schema(
        operation_id="jobs_list",
        summary="List this key's jobs, newest first",
        description=(
            "Only the jobs the calling key created, each as `GET /api/v1/status/{job_id}` "
            "returns it; 20 a page (`limit` 1 to 100), the next page at `next`."
        ),
        parameters=[JobListQuerySerializer],
        responses={200: JobPageSerializer},
    )
    def get(self, request):
        # A plain dict: as a QueryDict, an empty value (``?status=``) would count as absent.
        query = JobListQuerySerializer(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        filters = {k: v for k, v in query.validated_data.items() if k not in ("limit", "cursor")}
        jobs = jobs_list(organization=request.auth.organization, key=request.auth, **filters)
        paginator = NextCursorPagination()
        page = paginator.paginate_queryset(jobs, request, view=self)
        return paginator.get_paginated_response([job_status_body(job) for job in page])


class JobCancelView(APIView):
    required_permission = Permission.JOBS_WRITE
    schema_tag = "Jobs"
    errors = (JobNotFound, JobNotCancelable)

    @extend_schema(
        operation_id="jobs_cancel",
        summary="Cancel a job",
        description=(
            "A queued job is canceled at once and its credits come back. A running job is "
            "asked to stop: the answer has `status: running` and `cancel_requested: true`, and "
            "the job becomes `canceled` when its worker reaches its next step, charged only "
            "for what the engine reported (nothing if it never returned). Asking again is "
            "harmless. A finished job is 409 `job_not_cancelable`."
        ),
        parameters=[JOB_ID_PARAMETER],
        request=None,
        responses={200: JobSerializer},
    )
    def post(self, request, job_id: str):
        job = job_get_for_key(key=request.auth, job_id=job_id)
        job = job_cancel(job=job, actor=Actor.for_request(request))
        return Response(job_status_body(job))


class ModelsView(APIView):
    required_permission = ANY_KEY
    schema_tag = "Models"

    @extend_schema(
        operation_id="models",
        summary="List the models this key may use, with their prices",
        description=(
            "The models of the plan's price table that this key may use: all of them, or those "
            "of the key's `allowed_models` when it has a list. "
            "Prices are credits per 1,000 tokens. A job reserves "
            "`ceil(input tokens × input price / 1000 + max_tokens × output price / 1000)` "
            "(at least 1) and is charged the same on the tokens it used."
        ),
        responses={200: ModelListSerializer},
    )
    def get(self, request):
        key = request.auth
        prices = [
            price
            for price in prices_for_plan(plan=key.organization.plan)
            if key.allows_model(price.model)
        ]
        return Response({"results": ModelEntrySerializer(prices, many=True).data, "next": None})


class CostsView(APIView):
    required_permission = Permission.USAGE_READ
    schema_tag = "Usage"

    @extend_schema(
        operation_id="usage_costs",
        summary="Costs by key, model and hour or day",
        description=(
            "What the organization's jobs cost, in UTC buckets from `start` to `end` (rounded "
            "out to whole buckets): at most 7 days of `hour` buckets or 31 days of `day` "
            "buckets, else `400 invalid_request` with `fields`. Every bucket is listed, with "
            "an empty `results` when nothing was submitted in it. Each result is one group "
            "(`group_by`: `key`, `model`, both, or none) with the credits the ledger holds for "
            "its jobs (the charge of finished jobs: what a capture or release gave back is not "
            "counted, so refunds and cancels count; the reservation of jobs still queued or "
            "running), the jobs submitted and their tokens. Test keys' jobs are results of "
            "their own (`test: true`, 0 credits); a test key sees only those. A key sees the "
            "jobs of its own project (`project` naming another reports nothing). Hours the "
            "worker has rolled up are read from the rollup, the last ones from the jobs."
        ),
        parameters=[CostsQuerySerializer],
        responses={200: CostReportSerializer},
    )
    def get(self, request):
        # A plain dict: as a QueryDict, an empty value would count as absent.
        query = CostsQuerySerializer(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        # A key sees its own project's jobs: naming another project reports nothing.
        own, wanted = request.auth.project_id, query.validated_data.project
        report = costs_report(
            organization=request.auth.organization,
            query=query.validated_data,
            test_only=request.auth.type == ApiKey.Type.TEST,
            projects=frozenset({own}) if wanted in (None, own) else frozenset(),
        )
        # Already in its declared shape (``CostReportSerializer``, the schema's): rendered as is,
        # since a month of days by key and model is thousands of results.
        return Response(report)
