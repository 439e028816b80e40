"""Warn an organization's owners and admins before its keys expire."""

import logging
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Exists, F, OuterRef
from django.utils import timezone

from accounts.audit import Actor, audit_record
from apikeys.keys.emails import expiry_warning_send
from apikeys.keys.models import ApiKey, KeyExpiryWarning

logger = logging.getLogger(__name__)

# Lead times, longest first: a key is warned 7 days and 1 day before it expires.
WARNING_DAYS = (7, 1)
_SYSTEM = Actor.system("expiry warnings")


def _due(days: int, shorter: int, now: datetime):
    """Active keys expiring within ``days`` (but not within the next, ``shorter``, lead time)
    that already existed ``days`` before their expiry and were not warned for it yet."""
    lead = timedelta(days=days)
    warned = KeyExpiryWarning.objects.filter(
        key=OuterRef("pk"), days_before=days, expires_at=OuterRef("expires_at")
    )
    return (
        ApiKey.objects.filter(
            status=ApiKey.Status.ACTIVE,
            deleted_at__isnull=True,
            expires_at__gt=now + timedelta(days=shorter),
            expires_at__lte=now + lead,
            created_at__lt=F("expires_at") - lead,
        )
        .exclude(Exists(warned))
        .select_related("organization")
        .order_by("expires_at", "pk")
    )


def apikey_expiry_warnings_send(*, now: datetime | None = None) -> int:
    """Send each due expiry warning once; return how many were sent.

    Each warning is claimed by inserting its ``KeyExpiryWarning`` row (unique per key, expiry
    and lead time) and audited (``api_key.expiry_warning_sent``) in the transaction that sends
    the email: of several workers one sends, and a failed email is tried again next run. A key
    whose expiry changes gets warnings for its new expiry. A key made with less than a lead
    time to live gets no warning for that lead time.
    """
    now = now or timezone.now()
    sent = 0
    for index, days in enumerate(WARNING_DAYS):
        shorter = WARNING_DAYS[index + 1] if index + 1 < len(WARNING_DAYS) else 0
        for key in _due(days, shorter, now):
            try:
                sent += _warn(key, days, now)
            except Exception:
                logger.exception("Expiry warning for key %s not sent", key.key_id)
    return sent


def _warn(key: ApiKey, days: int, now: datetime) -> int:
    try:
        with transaction.atomic():
            warning = KeyExpiryWarning.objects.create(
                key=key, expires_at=key.expires_at, days_before=days, sent_at=now
            )
            warning.recipients = expiry_warning_send(key=key, days_before=days)
            warning.save(update_fields=["recipients"])
            audit_record(
                actor=_SYSTEM,
                action="api_key.expiry_warning_sent",
                organization=key.organization,
                target=key,
                metadata={
                    "days_before": days,
                    "expires_at": key.expires_at.isoformat(),
                    "recipients": warning.recipients,
                },
            )
    except IntegrityError:  # another worker claimed it
        return 0
    return 1
