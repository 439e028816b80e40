"""The key-management API (``/api/v1/keys…``) and the key pages of Developer Settings."""

from django.urls import include, path

from apikeys.keys import api, views

api_patterns = [
    path("keys", api.KeyListView.as_view(), name="api-keys"),
    path("keys/<str:key_id>", api.KeyDetailView.as_view(), name="api-key"),
    path("keys/<str:key_id>/revoke", api.KeyRevokeView.as_view(), name="api-key-revoke"),
    path("keys/<str:key_id>/disable", api.KeyDisableView.as_view(), name="api-key-disable"),
    path("keys/<str:key_id>/enable", api.KeyEnableView.as_view(), name="api-key-enable"),
    path("keys/<str:key_id>/rotate", api.KeyRotateView.as_view(), name="api-key-rotate"),
]

page_patterns = [
    path("", views.key_list, name="developer-settings"),
    path("keys/new/", views.key_create, name="developer-key-create"),
    path("keys/<str:key_id>/", views.key_detail, name="developer-key"),
    path("keys/<str:key_id>/rename/", views.key_rename, name="developer-key-rename"),
    path("keys/<str:key_id>/edit/", views.key_edit, name="developer-key-edit"),
    path("keys/<str:key_id>/disable/", views.key_disable, name="developer-key-disable"),
    path("keys/<str:key_id>/enable/", views.key_enable, name="developer-key-enable"),
    path("keys/<str:key_id>/revoke/", views.key_revoke, name="developer-key-revoke"),
    path("keys/<str:key_id>/delete/", views.key_delete, name="developer-key-delete"),
    path("keys/<str:key_id>/rotate/", views.key_rotate, name="developer-key-rotate"),
]

urlpatterns = [
    path("api/v1/", include(api_patterns)),
    path("settings/developer/", include(page_patterns)),
]
