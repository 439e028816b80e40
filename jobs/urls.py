"""The jobs API (``/api/v1/generate``, ``status``, ``models``) and the spend pages."""

from django.urls import include, path

from jobs import views
from jobs.api import GenerateView, ModelsView, StatusView

api_patterns = [
    path("generate", GenerateView.as_view(), name="api-generate"),
    path("status/<str:job_id>", StatusView.as_view(), name="api-status"),
    path("models", ModelsView.as_view(), name="api-models"),
]

page_patterns = [
    path("", views.spend, name="developer-spend"),
    path("limit/", views.org_spend_limit, name="developer-spend-org-limit"),
    path("keys/<str:key_id>/", views.key_spend_limit, name="developer-spend-key-limit"),
    path("ledger.csv", views.ledger_csv, name="developer-ledger-csv"),
]

urlpatterns = [
    path("api/v1/", include(api_patterns)),
    path("settings/developer/spend/", include(page_patterns)),
]
