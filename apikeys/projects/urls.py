"""The projects API (``/api/v1/projects``) and the project pages."""

from django.urls import include, path

from apikeys.projects import api

api_patterns = [
    path("projects", api.ProjectListView.as_view(), name="api-projects"),
]

urlpatterns = [
    path("api/v1/", include(api_patterns)),
]
