from django.urls import path

from jobs.api import GenerateView, ModelsView, StatusView

urlpatterns = [
    path("generate", GenerateView.as_view(), name="api-generate"),
    path("status/<str:job_id>", StatusView.as_view(), name="api-status"),
    path("models", ModelsView.as_view(), name="api-models"),
]
