from django.apps import AppConfig


class PerceptisConfig(AppConfig):
    name = "perceptis"

    def ready(self):
        from perceptis import checks  # noqa: F401  (registers the checks)
        from perceptis.openapi import extensions  # noqa: F401  (registers the schema extensions)
