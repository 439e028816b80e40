"""The usage API (``/api/v1/usage``) and the request-log and activity pages (the usage page,
which draws the jobs' costs, is ``jobs.views.usage``)."""

from django.urls import include, path

from apikeys.usage import api, views

api_patterns = [
    path("usage", api.UsageView.as_view(), name="api-usage"),
]

page_patterns = [
    path("requests/", views.request_log, name="developer-requests"),
    path("requests/<int:pk>/", views.request_detail, name="developer-request"),
    path("activity/", views.activity, name="developer-activity"),
]

urlpatterns = [
    path("api/v1/", include(api_patterns)),
    path("settings/developer/", include(page_patterns)),
]
