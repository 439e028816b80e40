"""The public endpoints that take reports of exposed keys."""

from django.urls import include, path

from exposure import api

api_patterns = [
    path(
        "secret-scanning/github",
        api.GithubSecretScanningView.as_view(),
        name="api-secret-scanning-github",
    ),
    path("keys/revoke-exposed", api.RevokeExposedView.as_view(), name="api-keys-revoke-exposed"),
]

urlpatterns = [path("api/v1/", include(api_patterns))]
