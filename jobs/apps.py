from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "jobs"

    def ready(self):
        # Spend alerts need jobs' figures; the alert evaluation looks them up by metric.
        from jobs.alerts import register

        register()
