from django.apps import AppConfig


class ApikeysConfig(AppConfig):
    """Keys and the request pipeline (``keys/``) and usage (``usage/``)."""

    name = "apikeys"
    verbose_name = "API keys"

    def ready(self):
        from apikeys.keys import invalidation, schema  # noqa: F401  (the OpenAPI auth scheme)

        invalidation.connect()
