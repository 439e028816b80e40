from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from perceptis import health, metrics
from perceptis.error_views import api_not_found

handler400 = "perceptis.error_views.handler400"
handler403 = "perceptis.error_views.handler403"
# /admin/login/ is allauth's sign-in: the same failure limits, audit and two-factor.
admin.site.login = secure_admin_login(admin.site.login)

handler404 = "perceptis.error_views.handler404"
handler500 = "perceptis.error_views.handler500"

schema_view = SpectacularAPIView.as_view(authentication_classes=[], permission_classes=[])

api_v1 = [
    path("schema/", schema_view, name="api-schema"),
    # API paths have no trailing slash; the schema answers both ways, never with a redirect.
    path("schema", schema_view, name="api-schema-bare"),
    # Anything else under /api/v1/ is a JSON 404, never an HTML page or a slash redirect.
    path("<path:rest>", api_not_found),
]

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="developer-settings", permanent=False)),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics.metrics, name="metrics"),
    # Each concern mounts its API under /api/v1/ and its pages under /settings/developer/.
    # Before the key routes: ``keys/revoke-exposed`` is not a Key ID.
    path("", include("exposure.urls")),
    path("", include("apikeys.keys.urls")),
    path("", include("apikeys.usage.urls")),
    path("", include("apikeys.projects.urls")),
    path("", include("alerts.urls")),
    path("", include("webhooks.urls")),
    path("", include("jobs.urls")),
    path("", include("accounts.members.urls")),
    path("api/v1/", include(api_v1)),
    path(
        "api/docs/",
        # The split view serves its start-up script as a file: no inline script (CSP).
        SpectacularSwaggerSplitView.as_view(
            url_name="api-schema", authentication_classes=[], permission_classes=[]
        ),
        name="api-docs",
    ),
    path("admin/", admin.site.urls),
    path("accounts/", include("accounts.urls")),
]
