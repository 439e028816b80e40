"""Who caused a change, and the one function that records it."""

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from accounts.models import AuditEvent, Organization
from perceptis.clientip import client_ip

if TYPE_CHECKING:
    from accounts.models import User


@dataclass(frozen=True)
class Actor:
    """A person, an API key, or the system (operators' commands, schedules)."""

    user: "User | None" = None
    key: Any = None  # an apikeys ApiKey: accounts sits below apikeys and does not import it
    ip: str | None = None
    label_override: str | None = None

    @classmethod
    def for_request(cls, request) -> "Actor":
        """Return who makes this request: its API key (API views) or its signed-in person."""
        # DRF's ``request.auth`` is the API key on key-authenticated views; pages have none.
        auth = getattr(request, "auth", None)
        if auth is not None:
            return cls(key=auth, ip=client_ip(request))
        return cls(user=request.user, ip=client_ip(request))

    @classmethod
    def system(cls, label: str = "system") -> "Actor":
        return cls(label_override=label)

    @property
    def type(self) -> str:
        if self.user is not None:
            return AuditEvent.ActorType.USER
        if self.key is not None:
            return AuditEvent.ActorType.API_KEY
        return AuditEvent.ActorType.SYSTEM

    @property
    def label(self) -> str:
        if self.label_override:
            return self.label_override
        if self.user is not None:
            return self.user.email
        if self.key is not None:
            return f"API key {self.key.key_id}"
        return "system"


def audit_record(
    *,
    actor: Actor,
    action: str,
    organization: Organization | None,
    target: Any = None,
    target_label: str = "",
    metadata: dict | None = None,
) -> AuditEvent:
    """Append one audit row. Call it inside the transaction of the change it records."""
    target_type = target_id = ""
    if target is not None:
        target_type = target._meta.label_lower
        target_id = str(getattr(target, "public_id", None) or target.pk)
        target_label = target_label or str(target)
    return AuditEvent.objects.create(
        organization=organization,
        action=action,
        actor_type=actor.type,
        actor_user=actor.user,
        actor_key=actor.key,
        actor_label=actor.label[:255],
        target_type=target_type,
        target_id=target_id[:64],
        target_label=target_label[:255],
        ip_address=actor.ip,
        metadata=metadata or {},
    )
