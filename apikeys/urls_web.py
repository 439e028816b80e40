"""Developer Settings pages."""

from django.urls import path
from django.views.generic import TemplateView

urlpatterns = [
    path(
        "",
        TemplateView.as_view(template_name="developer/placeholder.html"),
        name="developer-settings",
    ),
]
