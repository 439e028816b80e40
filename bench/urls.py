"""The benchmark's urlconf: variants of the status view, and the product's API.

The ORM-lookup variants are the product's ``StatusView`` with only its authentication class
changed, under ``/api/`` like the product's, so that the same middleware treats them alike.
"""

from django.urls import include, path

from bench.authentication import ORM_LOOKUP_AUTHENTICATION
from bench.variants import VARIANTS
from bench.views import NoAuthStatusView, PingView, TokenStatusView
from jobs.api import StatusView

urlpatterns = [
    # Under /api/, so the middleware treats it as it treats the API.
    path("api/bench/ping", PingView.as_view()),
    path("bench/none/status/<str:job_id>", NoAuthStatusView.as_view()),
    path("bench/token/status/<str:job_id>", TokenStatusView.as_view()),
    *(
        path(
            v.path.lstrip("/").replace("{job_id}", "<str:job_id>"),
            StatusView.as_view(authentication_classes=[ORM_LOOKUP_AUTHENTICATION[v.database]]),
        )
        for v in VARIANTS
        if v.database
    ),
    path("", include("perceptis.urls")),
]
