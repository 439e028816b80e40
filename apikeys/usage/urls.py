"""Developer Settings pages under ``/settings/developer/``."""

from django.urls import include, path

from apikeys.views import keys, usage

urlpatterns = [
    path("", keys.key_list, name="developer-settings"),
    path("keys/new/", keys.key_create, name="developer-key-create"),
    path("keys/<str:key_id>/", keys.key_detail, name="developer-key"),
    path("keys/<str:key_id>/rename/", keys.key_rename, name="developer-key-rename"),
    path("keys/<str:key_id>/disable/", keys.key_disable, name="developer-key-disable"),
    path("keys/<str:key_id>/enable/", keys.key_enable, name="developer-key-enable"),
    path("keys/<str:key_id>/revoke/", keys.key_revoke, name="developer-key-revoke"),
    path("keys/<str:key_id>/delete/", keys.key_delete, name="developer-key-delete"),
    path("keys/<str:key_id>/rotate/", keys.key_rotate, name="developer-key-rotate"),
    path("usage/", usage.usage, name="developer-usage"),
    path("requests/", usage.request_log, name="developer-requests"),
    path("activity/", usage.activity, name="developer-activity"),
    path("alerts/", include("apikeys.urls_alerts")),
]
