"""``/api/v1/webhooks…``: an organization's job-webhook endpoints, for keys with ``keys:manage``.

An endpoint belongs to the environment (live or test) and the project of the key that registers
it, receives only that project's events, and is seen and changed only by keys of that
environment and project: a test key gets ``404 webhook_not_found`` for a live endpoint, and a
key for another project's endpoint (or one of every project, made on the page), as for another
organization's. Every change goes through ``webhooks.services``
with the acting key as the audit actor.
"""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.audit import Actor
from apikeys.keys.models import Permission
from perceptis.pagination import NextCursorPagination
from perceptis.parsers import json_body
from webhooks import selectors, services
from webhooks.errors import WebhookLimitReached, WebhookNotFound
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

ENDPOINT_ID_PARAMETER = OpenApiParameter(
    "endpoint_id",
    location=OpenApiParameter.PATH,
    type=str,
    description="The endpoint's id (`we_...`).",
)
_ACTS_ON_IT = (
    "webhooks_retrieve",
    "webhooks_update",
    "webhooks_delete",
    "webhooks_rotate_secret",
    "webhooks_deliveries",
)


def _page(request, view, items, serializer_class) -> Response:
    # A plain dict: as a QueryDict, an empty value (``?limit=``) would count as absent.
    query = PageQuerySerializer(data=request.query_params.dict())
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
    schema_tag = "Webhooks"
    errors = (WebhookNotFound,)

    def get_endpoint(self, request, endpoint_id: str):
        endpoint = selectors.webhookendpoint_find(
            organization=request.auth.organization,
            environment=request.auth.type,
            project=request.auth.project_id,
            public_id=endpoint_id,
        )
        if endpoint is None:
            raise WebhookNotFound()
        return endpoint


class WebhookListView(_WebhookView):
    errors = {"POST": (WebhookLimitReached,)}
    schema_links = {
        "POST": {operation: {"endpoint_id": "$response.body#/id"} for operation in _ACTS_ON_IT}
    }

    @extend_schema(
        operation_id="webhooks_list",
        summary="List the webhook endpoints of this key's environment and project",
        description=(
            "The endpoints registered by keys of the calling key's type (live or test) and "
            "project, newest first, in pages of `limit` (default 20); follow `next` for more. "
            "Never a secret."
        ),
        parameters=[PageQuerySerializer],
        responses={200: EndpointPageSerializer},
    )
    def get(self, request):
        endpoints = selectors.webhookendpoint_list(
            organization=request.auth.organization,
            environment=request.auth.type,
            project=request.auth.project_id,
        )
        return _page(request, self, endpoints, EndpointSerializer)

    @extend_schema(
        operation_id="webhooks_create",
        summary="Register an endpoint (its signing secret is in this response only)",
        description=(
            "Register a URL to receive the chosen events, signed as Standard Webhooks, of the "
            "calling key's environment and project. The signing secret (`whsec_...`) is in this "
            "response only, which is `Cache-Control: no-store`."
        ),
        request=EndpointCreateSerializer,
        responses={201: EndpointWithSecretSerializer},
    )
    def post(self, request):
        serializer = EndpointCreateSerializer(data=json_body(request))
        serializer.is_valid(raise_exception=True)
        endpoint, secret = services.webhookendpoint_create(
            organization=request.auth.organization,
            environment=request.auth.type,
            project=request.auth.project_id,
            actor=Actor.for_request(request),
            **serializer.validated_data,
        )
        return _with_secret(endpoint, secret, status.HTTP_201_CREATED)


class WebhookDetailView(_WebhookView):
    @extend_schema(
        operation_id="webhooks_retrieve",
        summary="Get an endpoint",
        description="An endpoint of the calling key's environment and project; never its secret.",
        parameters=[ENDPOINT_ID_PARAMETER],
        responses={200: EndpointSerializer},
    )
    def get(self, request, endpoint_id: str):
        return Response(EndpointSerializer(self.get_endpoint(request, endpoint_id)).data)

    @extend_schema(
        operation_id="webhooks_update",
        summary="Change an endpoint's URL, events, description, or enable or disable it",
        description="Change only the fields sent; the secret stays.",
        parameters=[ENDPOINT_ID_PARAMETER],
        request=EndpointChangeSerializer,
        responses={200: EndpointSerializer},
    )
    def patch(self, request, endpoint_id: str):
        # As a key's PATCH: every field is optional, so no body at all changes nothing.
        serializer = EndpointChangeSerializer(data=json_body(request, required=False))
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
        description="No more events are sent to it; deliveries not yet sent are dropped.",
        parameters=[ENDPOINT_ID_PARAMETER],
        responses={204: None},
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
        description=(
            "The new secret is in this response only (`Cache-Control: no-store`). Until the "
            "old one expires, deliveries carry a signature under each."
        ),
        parameters=[ENDPOINT_ID_PARAMETER],
        request=None,
        responses={200: EndpointWithSecretSerializer},
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
        description=(
            "Each delivery's event, status, attempts and the last attempt's outcome, in pages "
            "of `limit` (default 20); follow `next` for more."
        ),
        parameters=[ENDPOINT_ID_PARAMETER, PageQuerySerializer],
        responses={200: DeliveryPageSerializer},
    )
    def get(self, request, endpoint_id: str):
        deliveries = selectors.webhookdelivery_list(
            endpoint=self.get_endpoint(request, endpoint_id)
        )
        return _page(request, self, deliveries, DeliverySerializer)
