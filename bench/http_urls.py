"""The HTTP benchmark's urlconf: the product's, plus an unauthenticated DRF view to compare with."""

from django.urls import include, path

from bench.views import PingView
from perceptis.urls import handler400, handler403, handler404, handler500  # noqa: F401

urlpatterns = [
    # Under /api/, so the middleware treats it as it treats the API.
    path("api/bench/ping", PingView.as_view()),
    path("", include("perceptis.urls")),
]
