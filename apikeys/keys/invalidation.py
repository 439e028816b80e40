"""Cached key records go stale on commit of any change to what they hold.

Saving or deleting a key, a secret, an organization or a plan (through the versions of the
organizations on it) makes the records that depend on it stale in every process
(``keycache.invalidate``): at once, and again once the change has
committed (a lookup in between still reads the old row and may store it; the second
invalidation retires that record, and the first serves requests made in the same transaction,
as tests and management shells make them). Code that
changes those rows with ``QuerySet.update()`` sends no signal and must call ``stale_on_commit``
itself; the only such update, a key's last use, is not part of what a record is trusted for.
If Redis is unreachable then, the record expires on its own (``APIKEYS_KEY_CACHE_SECONDS``).
"""

import logging

from django.conf import settings
from django.db import transaction
from django.db.models.signals import post_delete, post_save

from accounts.models import Organization, Plan
from apikeys.keys import keycache
from apikeys.keys.fallback import shared_call
from apikeys.keys.models import ApiKey, KeySecret

logger = logging.getLogger(__name__)


def stale_on_commit(*, keys=(), organizations=()) -> None:
    """Make the records of these keys (``(organization, key)`` pairs) and organizations stale
    once committed."""
    if not keycache.enabled():
        return
    groups = keycache.version_groups(keys=keys, organizations=organizations)

    def invalidate():
        # One call per slot: an organization's versions share its slot on a cluster.
        for names in groups:
            if shared_call(keycache.invalidate, names, on=names[0]) is None:
                logger.warning(
                    "Cached key records not invalidated (Redis unavailable); they expire "
                    "within %s s",
                    settings.APIKEYS_KEY_CACHE_SECONDS,
                )

    invalidate()
    transaction.on_commit(invalidate)


def _key_changed(sender, instance, **kwargs):
    stale_on_commit(keys=[(instance.organization_id, instance.pk)])


def _secret_changed(sender, instance, **kwargs):
    if KeySecret.key.is_cached(instance):
        organization = instance.key.organization_id
    else:
        organization = (
            ApiKey._base_manager.filter(pk=instance.key_id)
            .values_list("organization_id", flat=True)
            .first()
        )
    if organization is not None:  # else the key is gone, and its own change made it stale
        stale_on_commit(keys=[(organization, instance.key_id)])


def _organization_changed(sender, instance, **kwargs):
    stale_on_commit(organizations=[instance.pk])


def _plan_changed(sender, instance, **kwargs):
    # A plan has no version of its own (no name could share a slot with every organization on
    # it): its organizations' versions move. Plans change rarely, by staff.
    on_plan = Organization._base_manager.filter(plan_id=instance.pk)
    stale_on_commit(organizations=list(on_plan.values_list("pk", flat=True)))


def connect() -> None:
    for model, receiver in (
        (ApiKey, _key_changed),
        (KeySecret, _secret_changed),
        (Organization, _organization_changed),
        (Plan, _plan_changed),
    ):
        name = f"apikeys.keycache.{model.__name__}"
        post_save.connect(receiver, sender=model, dispatch_uid=f"{name}.save")
        post_delete.connect(receiver, sender=model, dispatch_uid=f"{name}.delete")
