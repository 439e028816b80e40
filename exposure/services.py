"""Keys reported exposed: find them, revoke them, and tell their organization.

Two ways in: GitHub's secret-scanning reports (``exposed_report_github``, answered at once with
GitHub's feedback) and the public revocation endpoint (``exposed_hashes_revoke``, run by the
worker from the keys' hashes, so the request does the same work for any key). Either way a
key of ours that is not yet revoked is revoked with the reason ``exposed`` and its audit row
(``apikeys.keys.services.apikey_revoke_exposed``), a ``key.exposed`` webhook event is recorded
in the same transaction, and the organization's owners and admins get one email per report
after it commits. A key already revoked changes nothing, so replayed reports are harmless.
"""

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.audit import Actor
from apikeys.keys import keyformat
from apikeys.keys.models import ApiKey, KeySecret
from apikeys.keys.services import apikey_revoke_exposed
from exposure.emails import exposure_email_send
from webhooks.events import event_publish

logger = logging.getLogger(__name__)

GITHUB = ApiKey.ExposureSource.GITHUB
PUBLIC = ApiKey.ExposureSource.PUBLIC
# The most hashes one query looks up (SQLite's parameter limit, PostgreSQL's plan size).
_CHUNK = 500


def token_hashes(tokens) -> dict[str, tuple[str, str]]:
    """Return ``{hash: (token, pepper id)}`` for each well-formed key among ``tokens``.

    A key is hashed under the current pepper and each retired one, as the key lookup does;
    anything that is not a well-formed key of ours (format and checksum) costs no hash.
    """
    hashes = {}
    for token in tokens:
        if not isinstance(token, str) or keyformat.parse(token) is None:
            continue
        hashes[keyformat.hash_key(token)] = (token, settings.API_KEY_PEPPER_ID)
        for pepper_id, pepper in settings.API_KEY_RETIRED_PEPPERS.items():
            hashes[keyformat.hash_key(token, pepper)] = (token, pepper_id)
    return hashes


def secrets_find(hashes: dict[str, str]) -> dict[str, KeySecret]:
    """Return ``{hash: secret}`` for the hashes (``{hash: pepper id}``) that name a secret."""
    found = {}
    wanted = list(hashes)
    for start in range(0, len(wanted), _CHUNK):
        rows = KeySecret.objects.filter(secret_hash__in=wanted[start : start + _CHUNK])
        for secret in rows.select_related("key__organization"):
            if secret.pepper_id == hashes[secret.secret_hash]:
                found[secret.secret_hash] = secret
    return found


@dataclass(frozen=True)
class Exposed:
    key: ApiKey
    source: str
    url: str


def _iso(moment) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _event_data(exposed: Exposed) -> dict:
    key = exposed.key
    return {
        "key": {
            "id": key.key_id,
            "name": key.name,
            "hint": key.hint,
            "type": key.type,
            "environment": key.environment,
        },
        "project": key.project_id,
        "revoked_at": _iso(key.revoked_at),
        "revoked_reason": key.revoked_reason,
        "source": exposed.source,
        "url": exposed.url or None,
    }


def _send_emails(revoked: list[Exposed]) -> None:
    by_organization = defaultdict(list)
    for exposed in revoked:
        by_organization[exposed.key.organization_id].append(exposed)
    for found in by_organization.values():
        try:
            exposure_email_send(organization=found[0].key.organization, exposed=found)
        except Exception:
            # The keys are revoked and the event recorded; a mail outage must not undo that.
            logger.exception("Exposed-key email to organization %s not sent", found[0].key.pk)


@transaction.atomic
def _revoke(found: list[tuple[KeySecret, str]], *, actor: Actor, source: str) -> list[Exposed]:
    """Revoke each found secret's key (at most once); record events; email after commit."""
    now = timezone.now()
    revoked = []
    for secret, url in found:
        # A secret rotated out (past its grace) no longer opens the key: nothing to revoke.
        if not secret.is_current(now):
            continue
        key = apikey_revoke_exposed(key=secret.key, actor=actor, source=source, url=url)
        if key is not None:
            exposed = Exposed(key=key, source=source, url=key.exposure_url)
            event_publish(
                organization=key.organization,
                environment=key.type,
                type="key.exposed",
                data=_event_data(exposed),
                project=key.project_id,
                now=now,
            )
            revoked.append(exposed)
    if revoked:
        transaction.on_commit(lambda: _send_emails(revoked))
    return revoked


def exposed_report_github(*, report: list[dict], actor: Actor) -> list[dict]:
    """Act on a verified GitHub report; return GitHub's feedback, one entry per token.

    ``report`` is GitHub's list of ``{"token", "type", "url", "source"}`` (already checked for
    shape). A token that is one of our keys, revoked now or before, is a ``true_positive``;
    anything else a ``false_positive``.
    """
    hashes = token_hashes(item["token"] for item in report)
    secrets = secrets_find({h: pepper for h, (_, pepper) in hashes.items()})
    by_token = defaultdict(lambda: None, {hashes[h][0]: s for h, s in secrets.items()})
    found = [(by_token[item["token"]], item.get("url") or "") for item in report]
    _revoke(
        [(secret, url) for secret, url in found if secret is not None], actor=actor, source=GITHUB
    )
    return [
        {
            "token_raw": item["token"],
            "token_type": item.get("type") or "",
            "label": "true_positive" if by_token[item["token"]] else "false_positive",
        }
        for item in report
    ]


def exposed_hashes_revoke(*, hashes: list[list[str]], ip: str | None = None) -> int:
    """Revoke the keys named by ``[hash, pepper id]`` pairs (public revocation); return how
    many were revoked now. Unknown hashes are ignored."""
    actor = Actor(label_override="Public revocation request", ip=ip)
    secrets = secrets_find(dict(hashes))
    return len(_revoke([(s, "") for s in secrets.values()], actor=actor, source=PUBLIC))
