"""The webhooks API (``/api/v1/webhooks…``) and its Developer Settings pages."""

from django.urls import include, path

from webhooks import api, views

api_patterns = [
    path("webhooks", api.WebhookListView.as_view(), name="api-webhooks"),
    path("webhooks/<str:endpoint_id>", api.WebhookDetailView.as_view(), name="api-webhook"),
    path(
        "webhooks/<str:endpoint_id>/rotate-secret",
        api.WebhookRotateView.as_view(),
        name="api-webhook-rotate-secret",
    ),
    path(
        "webhooks/<str:endpoint_id>/deliveries",
        api.WebhookDeliveriesView.as_view(),
        name="api-webhook-deliveries",
    ),
]

page_patterns = [
    path("", views.webhook_list, name="developer-webhooks"),
    path("new/", views.webhook_create, name="developer-webhook-create"),
    path("<str:endpoint_id>/", views.webhook_detail, name="developer-webhook"),
    path("<str:endpoint_id>/edit/", views.webhook_edit, name="developer-webhook-edit"),
    path("<str:endpoint_id>/rotate/", views.webhook_rotate, name="developer-webhook-rotate"),
    path("<str:endpoint_id>/delete/", views.webhook_delete, name="developer-webhook-delete"),
    path("<str:endpoint_id>/test/", views.webhook_send_test, name="developer-webhook-test"),
    path(
        "<str:endpoint_id>/deliveries/<str:message_id>/",
        views.webhook_delivery,
        name="developer-webhook-delivery",
    ),
    path(
        "<str:endpoint_id>/deliveries/<str:message_id>/resend/",
        views.webhook_resend,
        name="developer-webhook-resend",
    ),
]

urlpatterns = [
    path("api/v1/", include(api_patterns)),
    path("settings/developer/webhooks/", include(page_patterns)),
]
