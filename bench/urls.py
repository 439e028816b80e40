"""The benchmark's urlconf: three variants of the status view, and the product's API."""

from django.urls import include, path

from bench.views import NoAuthStatusView, TokenStatusView

urlpatterns = [
    path("bench/none/status/<str:job_id>", NoAuthStatusView.as_view()),
    path("bench/token/status/<str:job_id>", TokenStatusView.as_view()),
    path("", include("perceptis.urls")),
]
