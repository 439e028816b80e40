"""Revoke a key that was reported exposed (GitHub secret scanning, public revocation)."""

from django.db import transaction
from django.utils import timezone

from accounts.audit import Actor, audit_record
from apikeys.keys.models import ApiKey


@transaction.atomic
def apikey_revoke_exposed(
    *, key: ApiKey, actor: Actor, source: str, url: str = ""
) -> ApiKey | None:
    """Revoke ``key`` because it was reported exposed; return it if this call revoked it.

    Any key not yet revoked (active, disabled or expired: each could be made usable again) is
    revoked at once with the reason ``exposed``, the report's ``source`` and ``url`` on the key
    and in its ``api_key.exposed`` audit row. A key already revoked, whatever the reason,
    changes nothing and writes nothing, so a repeated report is harmless. Holding the key is
    the proof: the privilege rule does not apply, and the report's sender is the actor.
    """
    key = ApiKey.objects.select_for_update().select_related("organization").get(pk=key.pk)
    if key.status == ApiKey.Status.REVOKED:
        return None
    url = url[:2000]
    key.status = ApiKey.Status.REVOKED
    key.revoked_at = timezone.now()
    key.revoked_reason = ApiKey.RevokedReason.EXPOSED
    key.exposure_source = source
    key.exposure_url = url
    key.save(
        update_fields=[
            "status",
            "revoked_at",
            "revoked_reason",
            "exposure_source",
            "exposure_url",
        ]
    )
    audit_record(
        actor=actor,
        action="api_key.exposed",
        organization=key.organization,
        target=key,
        metadata={"reason": "exposed", "source": source, "url": url},
    )
    return key
