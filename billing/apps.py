from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save


class BillingConfig(AppConfig):
    name = "billing"

    def ready(self):
        from billing.models import ModelAccess, ModelPrice
        from billing.prices import price_table_changed

        for model in (ModelPrice, ModelAccess):
            post_save.connect(price_table_changed, sender=model, dispatch_uid=f"prices-{model}")
            post_delete.connect(price_table_changed, sender=model, dispatch_uid=f"prices-{model}")
