"""Key-management and usage endpoints under ``/api/v1/``."""

from django.urls import path

from apikeys.api import keys, usage

urlpatterns = [
    path("keys", keys.KeyListView.as_view(), name="api-keys"),
    path("keys/<str:key_id>", keys.KeyDetailView.as_view(), name="api-key"),
    path("keys/<str:key_id>/revoke", keys.KeyRevokeView.as_view(), name="api-key-revoke"),
    path("keys/<str:key_id>/disable", keys.KeyDisableView.as_view(), name="api-key-disable"),
    path("keys/<str:key_id>/enable", keys.KeyEnableView.as_view(), name="api-key-enable"),
    path("keys/<str:key_id>/rotate", keys.KeyRotateView.as_view(), name="api-key-rotate"),
    path("usage", usage.UsageView.as_view(), name="api-usage"),
]
