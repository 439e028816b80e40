"""The jobs API (``generate``, ``status``, ``jobs``, ``models``), the spend and jobs pages."""

from django.urls import include, path

from jobs import views
from jobs.api import (
    CostsView,
    GenerateView,
    JobCancelView,
    JobListView,
    ModelsView,
    StatusView,
)

api_patterns = [
    path("generate", GenerateView.as_view(), name="api-generate"),
    path("status/<str:job_id>", StatusView.as_view(), name="api-status"),
    path("jobs", JobListView.as_view(), name="api-jobs"),
    path("jobs/<str:job_id>/cancel", JobCancelView.as_view(), name="api-job-cancel"),
    path("models", ModelsView.as_view(), name="api-models"),
    path("usage/costs", CostsView.as_view(), name="api-usage-costs"),
]

job_page_patterns = [
    path("", views.job_list, name="developer-jobs"),
    path("<str:job_id>/", views.job_detail, name="developer-job"),
    path("<str:job_id>/cancel/", views.job_cancel_page, name="developer-job-cancel"),
]

page_patterns = [
    path("", views.spend, name="developer-spend"),
    path("limit/", views.org_spend_limit, name="developer-spend-org-limit"),
    path("keys/<str:key_id>/", views.key_spend_limit, name="developer-spend-key-limit"),
    path("ledger.csv", views.ledger_csv, name="developer-ledger-csv"),
]

usage_page_patterns = [
    path("", views.usage, name="developer-usage"),
    path("costs.csv", views.usage_costs_csv, name="developer-usage-costs-csv"),
]

urlpatterns = [
    path("api/v1/", include(api_patterns)),
    path("settings/developer/spend/", include(page_patterns)),
    path("settings/developer/jobs/", include(job_page_patterns)),
    path("settings/developer/usage/", include(usage_page_patterns)),
]
