from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"

    def ready(self):
        from accounts import signin  # noqa: F401  (connects the sign-in signal receivers)
