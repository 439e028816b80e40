"""The alert-rule pages of Developer Settings (``/settings/developer/alerts/``)."""

from django.urls import include, path

from alerts import views

page_patterns = [
    path("", views.alert_list, name="developer-alerts"),
    path("new/", views.alert_create, name="developer-alert-create"),
    path("<int:pk>/", views.alert_edit, name="developer-alert-edit"),
    path("<int:pk>/delete/", views.alert_delete, name="developer-alert-delete"),
]

urlpatterns = [
    path("settings/developer/alerts/", include(page_patterns)),
]
