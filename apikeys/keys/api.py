"""``/api/v1/keys…``: manage the organization's keys with a key that holds ``keys:manage``.

Every change goes through ``apikeys.keys.services`` with the acting key as the audit actor, so the
API, Developer Settings and admin share one set of rules: a key creates, changes, rotates,
disables, enables, revokes or deletes only keys it dominates on every axis and never lifts its
own restrictions (``403 exceeds_own_privileges``, see ``apikeys.keys.privileges``), cannot
exceed the plan's key limit or key creations per day, and may revoke itself.
"""

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.audit import Actor
from apikeys.keys import selectors, services
from apikeys.keys.models import Permission
from apikeys.keys.serializers import (
    KeyChangeSerializer,
    KeyCreateSerializer,
    KeyListQuerySerializer,
    KeyPageSerializer,
    KeyRotateSerializer,
    KeySerializer,
    KeyWithSecretSerializer,
)
from perceptis.errors import json_body
from perceptis.openapi import error_responses
from perceptis.pagination import NextCursorPagination

TAG = "API keys"
# Every change to a key: the pipeline's refusals and, for an acting key, the privilege rule.
_403_PRIVILEGES = (
    "ip_not_allowed, plan_not_eligible, insufficient_permissions, exceeds_own_privileges"
)


def _with_secret(key, plaintext: str) -> Response:
    response = Response(KeyWithSecretSerializer(key, context={"plaintext": plaintext}).data)
    # The plaintext is shown once: no cache may keep a copy.
    response["Cache-Control"] = "no-store"
    response["Pragma"] = "no-cache"
    return response


class _KeyView(APIView):
    required_permission = Permission.KEYS_MANAGE

    def get_key(self, request, key_id: str):
        return selectors.apikey_get(organization=request.auth.organization, key_id=key_id)


class KeyListView(_KeyView):
    @extend_schema(
        operation_id="keys_list",
        summary="List the organization's keys",
        tags=[TAG],
        parameters=[KeyListQuerySerializer],
        responses={200: KeyPageSerializer, **error_responses()},
    )
    def get(self, request):
        query = KeyListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        filters = {k: v for k, v in query.validated_data.items() if k not in ("limit", "cursor")}
        keys = selectors.apikey_list(organization=request.auth.organization, **filters)
        paginator = NextCursorPagination()
        page = paginator.paginate_queryset(keys, request, view=self)
        return paginator.get_paginated_response(KeySerializer(page, many=True).data)

    @extend_schema(
        operation_id="keys_create",
        summary="Create a key (its plaintext is in this response only)",
        tags=[TAG],
        request=KeyCreateSerializer,
        responses={
            201: KeyWithSecretSerializer,
            **error_responses(
                _403="ip_not_allowed, plan_not_eligible, insufficient_permissions, "
                "exceeds_own_privileges, key_limit_reached",
                _415="unsupported_media_type",
                _429="rate_limited, daily_quota_exceeded, key_creation_limit_reached",
            ),
        },
    )
    def post(self, request):
        serializer = KeyCreateSerializer(data=json_body(request, required=False))
        serializer.is_valid(raise_exception=True)
        fields = {"environment": settings.PERCEPTIS_ENVIRONMENT, **serializer.validated_data}
        key, plaintext = services.apikey_create(
            organization=request.auth.organization, actor=Actor.for_request(request), **fields
        )
        response = _with_secret(key, plaintext)
        response.status_code = status.HTTP_201_CREATED
        return response


class KeyDetailView(_KeyView):
    @extend_schema(
        operation_id="keys_retrieve",
        summary="Get a key",
        tags=[TAG],
        responses={200: KeySerializer, **error_responses(_404="key_not_found")},
    )
    def get(self, request, key_id: str):
        return Response(KeySerializer(self.get_key(request, key_id)).data)

    @extend_schema(
        operation_id="keys_update",
        summary="Rename a key or change its permissions, rate limit, expiry, IP allowlist "
        "or spend limit",
        tags=[TAG],
        request=KeyChangeSerializer,
        responses={
            200: KeySerializer,
            **error_responses(
                _403=_403_PRIVILEGES,
                _404="key_not_found",
                _409="key_revoked",
                _415="unsupported_media_type",
            ),
        },
    )
    def patch(self, request, key_id: str):
        serializer = KeyChangeSerializer(data=json_body(request, required=False))
        serializer.is_valid(raise_exception=True)
        key = services.apikey_update(
            key=self.get_key(request, key_id),
            actor=Actor.for_request(request),
            **serializer.validated_data,
        )
        return Response(KeySerializer(key).data)

    @extend_schema(
        operation_id="keys_delete",
        summary="Delete a revoked key (its jobs, usage and audit history stay)",
        tags=[TAG],
        responses={
            204: None,
            **error_responses(_403=_403_PRIVILEGES, _404="key_not_found", _409="key_not_revoked"),
        },
    )
    def delete(self, request, key_id: str):
        services.apikey_delete(key=self.get_key(request, key_id), actor=Actor.for_request(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


# The status changes share one view: (service, summary, the endpoint's own refusals).
_STATUS_CHANGES = {
    "revoke": (
        services.apikey_revoke,
        "Revoke a key for good (a key may revoke itself)",
        {"_403": _403_PRIVILEGES, "_404": "key_not_found"},
    ),
    "disable": (
        services.apikey_disable,
        "Disable a key until it is enabled again",
        {"_403": _403_PRIVILEGES, "_404": "key_not_found", "_409": "key_revoked"},
    ),
    "enable": (
        services.apikey_enable,
        "Enable a disabled key",
        {"_403": _403_PRIVILEGES, "_404": "key_not_found", "_409": "key_revoked"},
    ),
}


def status_view(change: str) -> type[APIView]:
    """Return the view of ``POST /api/v1/keys/{key_id}/<change>`` (revoke, disable, enable)."""
    service, summary, errors = _STATUS_CHANGES[change]

    class KeyStatusView(_KeyView):
        @extend_schema(
            operation_id=f"keys_{change}",
            summary=summary,
            tags=[TAG],
            request=None,
            responses={200: KeySerializer, **error_responses(**errors)},
        )
        def post(self, request, key_id: str):
            key = service(key=self.get_key(request, key_id), actor=Actor.for_request(request))
            return Response(KeySerializer(key).data)

    KeyStatusView.__name__ = KeyStatusView.__qualname__ = f"Key{change.title()}View"
    return KeyStatusView


class KeyRotateView(_KeyView):
    @extend_schema(
        operation_id="keys_rotate",
        summary="Give a key a new secret (its plaintext is in this response only)",
        tags=[TAG],
        request=KeyRotateSerializer,
        responses={
            200: KeyWithSecretSerializer,
            **error_responses(
                _403=_403_PRIVILEGES,
                _404="key_not_found",
                _409="key_revoked",
                _415="unsupported_media_type",
            ),
        },
    )
    def post(self, request, key_id: str):
        serializer = KeyRotateSerializer(data=json_body(request, required=False))
        serializer.is_valid(raise_exception=True)
        key, plaintext = services.apikey_rotate(
            key=self.get_key(request, key_id),
            actor=Actor.for_request(request),
            grace_period_seconds=serializer.validated_data.get("grace_period_seconds", 0),
        )
        return _with_secret(key, plaintext)
