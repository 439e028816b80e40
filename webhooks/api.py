"""``/api/v1/webhooks…``: an organization's job-webhook endpoints, for keys with ``keys:manage``.

An endpoint belongs to the environment of the key that registers it (live or test) and is seen
and changed only by keys of that environment: a test key gets ``404 webhook_not_found`` for a
live endpoint, as for another organization's. Every change goes through ``webhooks.services``
with the acting key as the audit actor.
"""

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.audit import Actor
from apikeys.keys.models import Permission
from perceptis.errors import json_body
from perceptis.openapi import error_responses
from perceptis.pagination import NextCursorPagination
from webhooks import selectors, services
from webhooks.errors import WebhookNotFound
from webhooks.serializers import (
    DeliveryPageSerializer,
    DeliverySerializer,
    EndpointChangeSerializer,
    EndpointCreateSerializer,
    EndpointPageSerializer,
    EndpointSerializer,
    EndpointWithSecretSerializer,
    PageQuerySerializer,
)

TAG = "Webhooks"


def _page(request, view, items, serializer_class) -> Response:
    query = PageQuerySerializer(data=request.query_params)
    query.is_valid(raise_exception=True)
    paginator = NextCursorPagination()
    page = paginator.paginate_queryset(items, request, view=view)
    return paginator.get_paginated_response(serializer_class(page, many=True).data)


def _with_secret(endpoint, secret: str, status_code=status.HTTP_200_OK) -> Response:
    body = EndpointWithSecretSerializer(endpoint, context={"secret": secret}).data
    response = Response(body, status=status_code)
    # The secret is shown once: no cache may keep a copy.
    response["Cache-Control"] = "no-store"
    response["Pragma"] = "no-cache"
    return response


class _WebhookView(APIView):
    required_permission = Permission.KEYS_MANAGE

    def get_endpoint(self, request, endpoint_id: str):
        endpoint = selectors.webhookendpoint_find(
            organization=request.auth.organization,
            environment=request.auth.type,
            public_id=endpoint_id,
        )
        if endpoint is None:
            raise WebhookNotFound()
        return endpoint


class WebhookListView(_WebhookView):
    @extend_schema(
        operation_id="webhooks_list",
        summary="List the webhook endpoints of this key's environment",
        tags=[TAG],
        parameters=[PageQuerySerializer],
        responses={200: EndpointPageSerializer, **error_responses()},
    )
    def get(self, request):
        endpoints = selectors.webhookendpoint_list(
            organization=request.auth.organization, environment=request.auth.type
        )
        return _page(request, self, endpoints, EndpointSerializer)

    @extend_schema(
        operation_id="webhooks_create",
        summary="Register an endpoint (its signing secret is in this response only)",
        tags=[TAG],
        request=EndpointCreateSerializer,
        responses={
            201: EndpointWithSecretSerializer,
            **error_responses(
                _403="ip_not_allowed, plan_not_eligible, insufficient_permissions, "
                "webhook_limit_reached",
                _415="unsupported_media_type",
            ),
        },
    )
    def post(self, request):
        serializer = EndpointCreateSerializer(data=json_body(request))
        serializer.is_valid(raise_exception=True)
        endpoint, secret = services.webhookendpoint_create(
            organization=request.auth.organization,
            environment=request.auth.type,
            actor=Actor.for_request(request),
            **serializer.validated_data,
        )
        return _with_secret(endpoint, secret, status.HTTP_201_CREATED)


class WebhookDetailView(_WebhookView):
    @extend_schema(
        operation_id="webhooks_retrieve",
        summary="Get an endpoint",
        tags=[TAG],
        responses={200: EndpointSerializer, **error_responses(_404="webhook_not_found")},
    )
    def get(self, request, endpoint_id: str):
        return Response(EndpointSerializer(self.get_endpoint(request, endpoint_id)).data)

    @extend_schema(
        operation_id="webhooks_update",
        summary="Change an endpoint's URL, events, description, or enable or disable it",
        tags=[TAG],
        request=EndpointChangeSerializer,
        responses={
            200: EndpointSerializer,
            **error_responses(_404="webhook_not_found", _415="unsupported_media_type"),
        },
    )
    def patch(self, request, endpoint_id: str):
        serializer = EndpointChangeSerializer(data=json_body(request))
        serializer.is_valid(raise_exception=True)
        endpoint = services.webhookendpoint_update(
            endpoint=self.get_endpoint(request, endpoint_id),
            actor=Actor.for_request(request),
            **serializer.validated_data,
        )
        return Response(EndpointSerializer(endpoint).data)

    @extend_schema(
        operation_id="webhooks_delete",
        summary="Delete an endpoint and its deliveries",
        tags=[TAG],
        responses={204: None, **error_responses(_404="webhook_not_found")},
    )
    def delete(self, request, endpoint_id: str):
        services.webhookendpoint_delete(
            endpoint=self.get_endpoint(request, endpoint_id), actor=Actor.for_request(request)
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookRotateView(_WebhookView):
    @extend_schema(
        operation_id="webhooks_rotate_secret",
        summary="Give an endpoint a new signing secret (in this response only); the old one "
        "keeps signing for 24 hours",
        tags=[TAG],
        request=None,
        responses={200: EndpointWithSecretSerializer, **error_responses(_404="webhook_not_found")},
    )
    def post(self, request, endpoint_id: str):
        endpoint, secret = services.webhookendpoint_rotate_secret(
            endpoint=self.get_endpoint(request, endpoint_id), actor=Actor.for_request(request)
        )
        return _with_secret(endpoint, secret)


class WebhookDeliveriesView(_WebhookView):
    @extend_schema(
        operation_id="webhooks_deliveries",
        summary="List an endpoint's deliveries, newest first",
        tags=[TAG],
        parameters=[PageQuerySerializer],
        responses={200: DeliveryPageSerializer, **error_responses(_404="webhook_not_found")},
    )
    def get(self, request, endpoint_id: str):
        deliveries = selectors.webhookdelivery_list(
            endpoint=self.get_endpoint(request, endpoint_id)
        )
        return _page(request, self, deliveries, DeliverySerializer)
