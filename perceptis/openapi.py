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

# The refusals every key-authenticated endpoint can answer, in the pipeline's order.
_PIPELINE_ERRORS = {
    400: "invalid_request",
    401: "missing_api_key, invalid_api_key, api_key_revoked, api_key_inactive, "
    "api_key_expired, environment_mismatch",
    403: "ip_not_allowed, plan_not_eligible, insufficient_permissions",
    429: "rate_limited, daily_quota_exceeded",
}


def error_responses(**extra: str) -> dict:
    """Return the pipeline's error responses plus the endpoint's own (``_404="key_not_found"``)."""
    descriptions = dict(_PIPELINE_ERRORS)
    for status, codes in extra.items():
        descriptions[int(status.lstrip("_"))] = codes
    return {
        status: OpenApiResponse(ErrorSerializer, description=codes)
        for status, codes in sorted(descriptions.items())
    }
