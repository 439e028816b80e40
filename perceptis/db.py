"""Database helpers every app uses."""

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet


def delete_in_batches(queryset: QuerySet, *, batch_size: int | None = None) -> int:
    """Delete the rows of ``queryset`` in primary-key batches, one transaction each.

    Return how many rows were deleted. Related rows follow each model's ``on_delete``.
    """
    batch_size = batch_size or settings.APIKEYS_PURGE_BATCH_SIZE
    model = queryset.model
    deleted = 0
    last_pk = None
    while True:
        page = queryset.order_by("pk")
        if last_pk is not None:
            page = page.filter(pk__gt=last_pk)
        pks = list(page.values_list("pk", flat=True)[:batch_size])
        if not pks:
            return deleted
        with transaction.atomic():
            _, by_model = model.objects.filter(pk__in=pks).delete()
        deleted += by_model.get(model._meta.label, 0)
        last_pk = pks[-1]
        if len(pks) < batch_size:
            return deleted
