from django.apps import AppConfig


class ApikeysConfig(AppConfig):
    name = "apikeys"
    verbose_name = "API keys"

    def ready(self):
        from apikeys import admin_usage, schema  # noqa: F401  (register admin, OpenAPI scheme)
