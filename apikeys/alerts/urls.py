"""Developer Settings pages for alert rules (included under /settings/developer/alerts/)."""

from django.urls import path

from apikeys import views_alerts

urlpatterns = [
    path("", views_alerts.alert_list, name="developer-alerts"),
    path("new/", views_alerts.alert_create, name="developer-alert-create"),
    path("<int:pk>/", views_alerts.alert_edit, name="developer-alert-edit"),
    path("<int:pk>/delete/", views_alerts.alert_delete, name="developer-alert-delete"),
]
