"""Shared pieces of the OpenAPI description."""

from drf_spectacular.utils import OpenApiResponse, inline_serializer
from rest_framework import serializers

ErrorSerializer = inline_serializer(
    name="Error",
    fields={
        "error": inline_serializer(
            name="ErrorDetail",
            fields={
                "code": serializers.CharField(),
                "message": serializers.CharField(),
                "request_id": serializers.CharField(),
                "fields": serializers.DictField(
                    child=serializers.ListField(child=serializers.CharField()), required=False
                ),
            },
        )
    },
)

ERROR_RESPONSES = {
    400: OpenApiResponse(ErrorSerializer, description="invalid_request"),
    401: OpenApiResponse(
        ErrorSerializer,
        description="missing_api_key, invalid_api_key, api_key_revoked, api_key_inactive, "
        "api_key_expired, environment_mismatch",
    ),
    402: OpenApiResponse(ErrorSerializer, description="insufficient_credits"),
    403: OpenApiResponse(
        ErrorSerializer, description="ip_not_allowed, plan_not_eligible, insufficient_permissions"
    ),
    404: OpenApiResponse(ErrorSerializer, description="not found"),
    415: OpenApiResponse(ErrorSerializer, description="unsupported_media_type"),
    422: OpenApiResponse(ErrorSerializer, description="idempotency_key_reused"),
    429: OpenApiResponse(ErrorSerializer, description="rate_limited, daily_quota_exceeded"),
}
