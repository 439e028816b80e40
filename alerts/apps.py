from django.apps import AppConfig


class AlertsConfig(AppConfig):
    """An organization's alert rules, their evaluation and the record of each firing."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "alerts"
    verbose_name = "Alerts"
