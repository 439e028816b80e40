"""Leases on destinations: at most one outbound worker sends to an endpoint or rule at a time.

A lease is a row in the database (``DestinationLease``), so it holds across processes and
machines on SQLite and PostgreSQL alike, and needs no cache. Taking one is a conditional UPDATE
of an expired row or an INSERT on a unique column: of two takers, exactly one wins.
"""

import secrets
from datetime import datetime

from django.db import IntegrityError, transaction

from webhooks.models import DestinationLease


def lease_take(*, destination: str, until: datetime, now: datetime) -> str | None:
    """Take the destination's lease until ``until``; return its token, or None if it is held."""
    token = secrets.token_hex(16)
    expired = DestinationLease.objects.filter(destination=destination, expires_at__lte=now)
    if expired.update(token=token, expires_at=until):
        return token
    try:
        with transaction.atomic():
            DestinationLease.objects.create(destination=destination, token=token, expires_at=until)
    except IntegrityError:
        return None  # Held by another worker (or taken an instant ago).
    return token


def lease_extend(*, destination: str, token: str, until: datetime) -> bool:
    """Keep the lease until ``until``; return False when it is no longer this token's."""
    return bool(
        DestinationLease.objects.filter(destination=destination, token=token).update(
            expires_at=until
        )
    )


def lease_release(*, destination: str, token: str) -> None:
    """Give the lease up (only the holder's token can)."""
    DestinationLease.objects.filter(destination=destination, token=token).delete()


def leased(*, destinations: list[str], now: datetime) -> set[str]:
    """Return which of ``destinations`` are held now."""
    return set(
        DestinationLease.objects.filter(
            destination__in=destinations, expires_at__gt=now
        ).values_list("destination", flat=True)
    )
