"""One-time tokens of the forms that show a secret once: create a key, rotate a key.

The token is signed (``django.core.signing``, salted per purpose) and names a ``FormToken``
row bound to the user, the organization and, for a rotation, the key. The first submission
claims the row with a conditional UPDATE, so of a form sent twice (reload, back button, double
click) exactly one acts and the other is told the secret is not shown again. Everything is in
the database: the forms work while the cache is down.
"""

import enum
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core import signing
from django.utils import timezone

from accounts.models import Organization
from apikeys.keys.models import FormToken
from perceptis.db import delete_in_batches

# How long an opened form can be sent; the rows are kept as long, then purged.
FORM_TOKEN_MAX_AGE = timedelta(hours=24)


def _salt(purpose: str) -> str:
    return f"apikeys.form-token.{purpose}"


def form_token_issue(*, user, organization: Organization, purpose: str, target: str = "") -> str:
    """Record a new one-time token for ``user`` in ``organization``; return it signed.

    ``target`` names what the form acts on (the Key ID of a rotation), so that a token cannot
    be carried over to another key's form.
    """
    now = timezone.now()
    row = FormToken.objects.create(
        nonce=secrets.token_urlsafe(24),
        purpose=purpose,
        user=user,
        organization=organization,
        created_at=now,
        expires_at=now + FORM_TOKEN_MAX_AGE,
    )
    payload = {"n": row.nonce, "u": user.pk, "o": organization.pk, "t": target}
    return signing.dumps(payload, salt=_salt(purpose), compress=False)


class Claim(enum.Enum):
    CLAIMED = "claimed"  # this submission may act
    USED = "used"  # sent before: the secret is not shown again
    INVALID = "invalid"  # forged, expired, another user's, organization's or key's


@dataclass(frozen=True)
class ClaimResult:
    outcome: Claim
    nonce: str = ""
    key_id: str = ""  # of the key an earlier submission made, when it is known


def form_token_claim(
    *,
    token: str,
    user,
    organization: Organization,
    purpose: str,
    target: str = "",
    now: datetime | None = None,
) -> ClaimResult:
    """Claim a signed form token for one submission, at most once across all processes."""
    now = now or timezone.now()
    try:
        payload = signing.loads(
            token, salt=_salt(purpose), max_age=FORM_TOKEN_MAX_AGE.total_seconds()
        )
    except signing.BadSignature:  # SignatureExpired included
        return ClaimResult(Claim.INVALID)
    if not isinstance(payload, dict) or (
        payload.get("u"),
        payload.get("o"),
        payload.get("t"),
    ) != (user.pk, organization.pk, target):
        return ClaimResult(Claim.INVALID)
    nonce = payload.get("n")
    rows = FormToken.objects.filter(
        nonce=nonce, purpose=purpose, user=user, organization=organization, expires_at__gt=now
    )
    if rows.filter(used_at__isnull=True).update(used_at=now):
        return ClaimResult(Claim.CLAIMED, nonce=nonce)
    used = rows.filter(used_at__isnull=False).values_list("key_id", flat=True).first()
    if used is None:
        return ClaimResult(Claim.INVALID)
    return ClaimResult(Claim.USED, nonce=nonce, key_id=used)


def form_token_release(*, nonce: str) -> None:
    """Give a claimed token back after a refused submission, so the corrected form can be sent."""
    FormToken.objects.filter(nonce=nonce, key_id="").update(used_at=None)


def form_token_done(*, nonce: str, key_id: str) -> None:
    """Remember the Key ID the claimed token's submission made (never its secret)."""
    FormToken.objects.filter(nonce=nonce).update(key_id=key_id)


def form_tokens_purge(*, now: datetime | None = None, batch_size: int | None = None) -> int:
    """Delete expired form tokens; return the count."""
    expired = FormToken.objects.filter(expires_at__lte=now or timezone.now())
    return delete_in_batches(expired, batch_size=batch_size)
