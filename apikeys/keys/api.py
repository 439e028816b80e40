"""``/api/v1/keys…``: manage the organization's keys with a key that holds ``keys:manage``.

Every change goes through ``apikeys.keys.services`` with the acting key as the audit actor, so the
API, Developer Settings and admin share one set of rules: a key creates, changes, rotates,
disables, enables, revokes or deletes only keys it dominates on every axis and never lifts its
own restrictions (``403 exceeds_own_privileges``, see ``apikeys.keys.privileges``), cannot
exceed the plan's key limit or key creations per day, and may revoke itself.

A test key sees only test keys: live keys are not in its lists, and every request naming one
answers ``404 key_not_found``, as another organization's key does (the webhooks API hides live
endpoints from test keys the same way).
"""

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.audit import Actor
from apikeys.keys import selectors, services
from apikeys.keys.errors import (
    ExceedsOwnPrivileges,
    KeyCreationLimitReached,
    KeyLimitReached,
    KeyNotFound,
    KeyNotRevoked,
    KeyPolicyViolation,
    KeyRevoked,
)
from apikeys.keys.models import ApiKey, Permission
from apikeys.keys.serializers import (
    KeyChangeSerializer,
    KeyCreateSerializer,
    KeyListQuerySerializer,
    KeyPageSerializer,
    KeyRotateSerializer,
    KeySerializer,
    KeyWithSecretSerializer,
)
from perceptis.pagination import NextCursorPagination
from perceptis.parsers import json_body

KEY_ID_PARAMETER = OpenApiParameter(
    "key_id",
    location=OpenApiParameter.PATH,
    type=str,
    description="The Key ID (`key_...`).",
)
# What a key-changing request may hit besides the pipeline: the key, and the privilege rule.
_CHANGE_ERRORS = (KeyNotFound, ExceedsOwnPrivileges)


def _with_secret(key, plaintext: str) -> Response:
    response = Response(KeyWithSecretSerializer(key, context={"plaintext": plaintext}).data)
    # The plaintext is shown once: no cache may keep a copy.
    response["Cache-Control"] = "no-store"
    response["Pragma"] = "no-cache"
    return response


class _KeyView(APIView):
    required_permission = Permission.KEYS_MANAGE
    schema_tag = "Keys"

    def get_key(self, request, key_id: str):
        return selectors.apikey_get(
            organization=request.auth.organization,
            key_id=key_id,
            test_only=_test_only(request),
            projects=_own_project(request),
        )


def _test_only(request) -> bool:
    return request.auth.type == ApiKey.Type.TEST


def _own_project(request) -> frozenset[str]:
    # A key sees and manages only its own project's keys: any other is 404, as another
    # organization's key is.
    return frozenset({request.auth.project_id})


class KeyListView(_KeyView):
    errors = {
        "POST": (
            ExceedsOwnPrivileges,
            KeyLimitReached,
            KeyCreationLimitReached,
            KeyPolicyViolation,
        )
    }
    schema_links = {
        "POST": {
            operation: {"key_id": "$response.body#/id"}
            for operation in (
                "keys_retrieve",
                "keys_update",
                "keys_delete",
                "keys_revoke",
                "keys_disable",
                "keys_enable",
                "keys_rotate",
            )
        }
    }

    @extend_schema(
        operation_id="keys_list",
        summary="List the organization's keys",
        description=(
            "The keys of the acting key's project, newest first, in pages of `limit` "
            "(default 20); follow `next` for more. `project` filters by project: another "
            "project's id lists nothing."
        ),
        parameters=[KeyListQuerySerializer],
        responses={200: KeyPageSerializer},
    )
    def get(self, request):
        # A plain dict: as a QueryDict, an empty value (``?type=``) would count as absent.
        query = KeyListQuerySerializer(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        filters = {k: v for k, v in query.validated_data.items() if k not in ("limit", "cursor")}
        keys = selectors.apikey_list(
            organization=request.auth.organization,
            test_only=_test_only(request),
            projects=_own_project(request),
            **filters,
        )
        paginator = NextCursorPagination()
        page = paginator.paginate_queryset(keys, request, view=self)
        return paginator.get_paginated_response(KeySerializer(page, many=True).data)

    @extend_schema(
        operation_id="keys_create",
        summary="Create a key (its plaintext is in this response only)",
        description=(
            "Create a key in the acting key's project (`project` may only name it), at most as "
            "powerful as the acting key on every axis (`403 exceeds_own_privileges` with "
            "`fields` otherwise), within the plan's key limit, key creations per day and the "
            "project's rate-limit ceiling. The plaintext `key` is in this response only, "
            "which is `Cache-Control: no-store`."
        ),
        request=KeyCreateSerializer,
        responses={201: KeyWithSecretSerializer},
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
    errors = {
        "GET": (KeyNotFound,),
        "PATCH": (*_CHANGE_ERRORS, KeyRevoked, KeyPolicyViolation),
        "DELETE": (*_CHANGE_ERRORS, KeyNotRevoked),
    }

    @extend_schema(
        operation_id="keys_retrieve",
        summary="Get a key",
        description="A key of this organization; never its secret.",
        parameters=[KEY_ID_PARAMETER],
        responses={200: KeySerializer},
    )
    def get(self, request, key_id: str):
        return Response(KeySerializer(self.get_key(request, key_id)).data)

    @extend_schema(
        operation_id="keys_update",
        summary="Rename a key or change its permissions, rate limit, expiry, IP allowlist "
        "or spend limit",
        description=(
            "Change only the fields sent. The result must stay at most as powerful as the "
            "acting key, and a key may only tighten its own restrictions. A key of another "
            "project is `404`; `project` may only name the acting key's own."
        ),
        parameters=[KEY_ID_PARAMETER],
        request=KeyChangeSerializer,
        responses={200: KeySerializer},
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
        description="Only a revoked key can be deleted; it disappears from lists and lookups.",
        parameters=[KEY_ID_PARAMETER],
        responses={204: None},
    )
    def delete(self, request, key_id: str):
        services.apikey_delete(key=self.get_key(request, key_id), actor=Actor.for_request(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


def _status_change_schema(operation_id: str, summary: str):
    """Return the schema of a status change: no body; the answer is the key as it is now."""
    return extend_schema(
        operation_id=operation_id,
        summary=summary,
        description=f"{summary}. Answer the key as it is now.",
        parameters=[KEY_ID_PARAMETER],
        request=None,
        responses={200: KeySerializer},
    )


class _KeyStatusView(_KeyView):
    """``POST /api/v1/keys/{key_id}/<change>``: the subclass's ``change``; answer the key."""

    def change(self, *, key: ApiKey, actor: Actor) -> ApiKey:
        raise NotImplementedError

    def post(self, request, key_id: str):
        key = self.change(key=self.get_key(request, key_id), actor=Actor.for_request(request))
        return Response(KeySerializer(key).data)


@extend_schema_view(
    post=_status_change_schema("keys_revoke", "Revoke a key for good (a key may revoke itself)")
)
class KeyRevokeView(_KeyStatusView):
    errors = _CHANGE_ERRORS

    def change(self, *, key: ApiKey, actor: Actor) -> ApiKey:
        return services.apikey_revoke(key=key, actor=actor)


@extend_schema_view(
    post=_status_change_schema("keys_disable", "Disable a key until it is enabled again")
)
class KeyDisableView(_KeyStatusView):
    errors = (*_CHANGE_ERRORS, KeyRevoked)

    def change(self, *, key: ApiKey, actor: Actor) -> ApiKey:
        return services.apikey_disable(key=key, actor=actor)


@extend_schema_view(post=_status_change_schema("keys_enable", "Enable a disabled key"))
class KeyEnableView(_KeyStatusView):
    errors = (*_CHANGE_ERRORS, KeyRevoked)

    def change(self, *, key: ApiKey, actor: Actor) -> ApiKey:
        return services.apikey_enable(key=key, actor=actor)


class KeyRotateView(_KeyView):
    errors = (*_CHANGE_ERRORS, KeyRevoked, KeyPolicyViolation)

    @extend_schema(
        operation_id="keys_rotate",
        summary="Give a key a new secret (its plaintext is in this response only)",
        description=(
            "Same Key ID, settings, jobs and usage; a new secret, in this response only. The "
            "old secret stops at once or after `grace_period_seconds`."
        ),
        parameters=[KEY_ID_PARAMETER],
        request=KeyRotateSerializer,
        responses={200: KeyWithSecretSerializer},
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
