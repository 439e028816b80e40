"""The projects API (``/api/v1/projects``) and the project pages."""

from django.urls import include, path

from apikeys.projects import api, views

api_patterns = [
    path("projects", api.ProjectListView.as_view(), name="api-projects"),
]

page_patterns = [
    path("projects/", views.project_index, name="developer-projects"),
    path("projects/new/", views.project_new, name="developer-project-new"),
    path("projects/<str:project_id>/", views.project_detail, name="developer-project"),
    path(
        "projects/<str:project_id>/settings/",
        views.project_settings,
        name="developer-project-settings",
    ),
    path(
        "projects/<str:project_id>/archive/",
        views.project_archive,
        name="developer-project-archive",
    ),
    path(
        "projects/<str:project_id>/admins/",
        views.project_admin_grant,
        name="developer-project-admin-grant",
    ),
    path(
        "projects/<str:project_id>/admins/<int:membership_id>/remove/",
        views.project_admin_revoke,
        name="developer-project-admin-revoke",
    ),
]

urlpatterns = [
    path("api/v1/", include(api_patterns)),
    path("settings/developer/", include(page_patterns)),
]
