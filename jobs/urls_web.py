"""The spend page of Developer Settings, under ``/settings/developer/spend/``."""

from django.urls import path

from jobs import views

urlpatterns = [
    path("", views.spend, name="developer-spend"),
    path("limit/", views.org_spend_limit, name="developer-spend-org-limit"),
    path("keys/<str:key_id>/", views.key_spend_limit, name="developer-spend-key-limit"),
    path("ledger.csv", views.ledger_csv, name="developer-ledger-csv"),
]
