"""Model pieces shared by the apps."""

from django.db import models


class AppendOnlyQuerySet(models.QuerySet):
    """Refuse bulk ``update()`` and ``delete()``, which would bypass the model's refusals.

    (Django's own ``on_delete=SET_NULL`` updates go through ``_update`` and still work, so a
    purged job or a deleted user leaves the rows that named it.)
    """

    def update(self, **kwargs):
        raise ValueError(f"{self.model._meta.verbose_name_plural} are append-only.")

    def delete(self):
        raise ValueError(f"{self.model._meta.verbose_name_plural} are append-only.")


class AppendOnlyModel(models.Model):
    """Rows that are only ever added: records of money and of who changed what."""

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if self.pk is not None and not kwargs.get("force_insert"):
            raise ValueError(f"{self._meta.verbose_name_plural} are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError(f"{self._meta.verbose_name_plural} are append-only.")
