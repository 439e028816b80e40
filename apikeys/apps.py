from django.apps import AppConfig


class ApikeysConfig(AppConfig):
    name = "apikeys"
    verbose_name = "API keys"

    def ready(self):
        from apikeys import admin_alerts, admin_usage, schema  # noqa: F401  (admin, OpenAPI scheme)
