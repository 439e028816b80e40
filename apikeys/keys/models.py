"""API keys and their secrets.

An ``ApiKey`` is the public, long-lived identity (Key ID, name, settings, usage, jobs); a
``KeySecret`` is one bearer secret for it, stored only as a keyed hash. Rotation adds a secret
to the same key and gives the old one an end, so a key can have two live secrets for a while.
"""

import ipaddress
from datetime import datetime

from django.conf import settings
from django.db import models
from django.utils import timezone

from accounts.models import Organization, Project


class Permission(models.TextChoices):
    JOBS_WRITE = "jobs:write", "Create jobs"
    JOBS_READ = "jobs:read", "Read jobs"
    USAGE_READ = "usage:read", "Read usage"
    KEYS_MANAGE = "keys:manage", "Manage API keys"


DEFAULT_PERMISSIONS = [Permission.JOBS_WRITE.value, Permission.JOBS_READ.value]


class ApiKeyQuerySet(models.QuerySet):
    def with_status(self, status: str, now: datetime):
        """Keys whose client-facing status is ``status``; ``expired`` is derived, never stored."""
        if status == ApiKey.Status.EXPIRED:
            return self.filter(status=ApiKey.Status.ACTIVE, expires_at__lte=now)
        if status == ApiKey.Status.ACTIVE:
            return self.filter(status=ApiKey.Status.ACTIVE).exclude(expires_at__lte=now)
        return self.filter(status=status)


class ApiKey(models.Model):
    class Type(models.TextChoices):
        LIVE = "live", "Live"
        TEST = "test", "Test"

    class Environment(models.TextChoices):
        PRODUCTION = "production", "Production"
        STAGING = "staging", "Staging"
        DEVELOPMENT = "development", "Development"

    class SpendPeriod(models.TextChoices):
        DAY = "day", "Day (UTC)"
        MONTH = "month", "Calendar month (UTC)"
        TOTAL = "total", "Total"

    class RevokedReason(models.TextChoices):
        REQUESTED = "requested", "Revoked by a person, a key or support"
        EXPOSED = "exposed", "Reported exposed"

    class ExposureSource(models.TextChoices):
        GITHUB = "github_secret_scanning", "GitHub secret scanning"
        PUBLIC = "public_revocation", "Public revocation request"

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        INACTIVE = "inactive", "Inactive"
        REVOKED = "revoked", "Revoked"
        # Never stored: derived from ``expires_at``.
        EXPIRED = "expired", "Expired"

    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="api_keys"
    )
    # The project the key belongs to, by its public id (``proj_…``): the pipeline and the jobs
    # it makes carry it without a join.
    project = models.ForeignKey(
        Project, on_delete=models.PROTECT, to_field="project_id", related_name="api_keys"
    )
    key_id = models.CharField("Key ID", max_length=32, unique=True)
    name = models.CharField(max_length=100)
    hint = models.CharField(max_length=32)
    type = models.CharField(max_length=8, choices=Type.choices, default=Type.LIVE)
    environment = models.CharField(
        max_length=16, choices=Environment.choices, default=Environment.PRODUCTION
    )
    permissions = models.JSONField(default=list)
    # None: the plan's limit. A key can only lower it.
    rate_limit_per_minute = models.PositiveIntegerField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    ip_allowlist = models.JSONField(default=list, blank=True)
    # Model names of the price table this key's jobs may ask for; empty: every model the plan
    # allows. Names, not rows: a model removed from the price table is simply not available.
    allowed_models = models.JSONField(default=list, blank=True)
    # None: no limit of its own. Credits reserved by its queued and running jobs plus those
    # charged for its finished ones (succeeded, or canceled after the engine returned), per UTC
    # day, calendar month or in total.
    spend_limit_credits = models.PositiveBigIntegerField(null=True, blank=True)
    spend_limit_period = models.CharField(
        max_length=8, choices=SpendPeriod.choices, default=SpendPeriod.MONTH
    )
    # What the key's jobs hold or were charged (see ``spend_limit_credits``), kept by the
    # submission's and the settlement's UPDATEs (``jobs.services.admission``) so that a
    # submission checks its limit without summing jobs: per UTC day and calendar month (each
    # for the period starting on its ``*_start``) and in total.
    spend_day_start = models.DateField(null=True, blank=True, editable=False)
    spend_day = models.BigIntegerField(default=0, db_default=0, editable=False)
    spend_month_start = models.DateField(null=True, blank=True, editable=False)
    spend_month = models.BigIntegerField(default=0, db_default=0, editable=False)
    spend_total = models.BigIntegerField(default=0, db_default=0, editable=False)
    status = models.CharField(
        max_length=16,
        choices=[c for c in Status.choices if c[0] != "expired"],
        default=Status.ACTIVE,
        db_index=True,
    )
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_by_key = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)
    # Why a revoked key was revoked; blank for keys revoked before reasons were kept.
    revoked_reason = models.CharField(
        max_length=16, choices=RevokedReason.choices, blank=True, default=""
    )
    # Where an exposed key was reported from (``ExposureSource``) and the report's URL, if any.
    exposure_source = models.CharField(
        max_length=32, choices=ExposureSource.choices, blank=True, default=""
    )
    exposure_url = models.CharField(max_length=2000, blank=True, default="")
    rotated_at = models.DateTimeField(null=True, blank=True)
    # Deleted keys are hidden from lists but kept with their jobs, usage and audit history.
    deleted_at = models.DateTimeField(null=True, blank=True, db_index=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    last_used_ip = models.GenericIPAddressField(null=True, blank=True)
    last_used_user_agent = models.CharField(max_length=255, blank=True)

    objects = ApiKeyQuerySet.as_manager()

    class Meta:
        verbose_name = "API key"
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["organization", "type", "status"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(deleted_at__isnull=True) | models.Q(status="revoked"),
                name="only_revoked_keys_deleted",
            )
        ]

    # DRF treats the authenticated key as ``request.user``.
    is_authenticated = True

    def __str__(self):
        return f"{self.name} ({self.key_id})"

    @property
    def public_id(self) -> str:
        return self.key_id

    def is_expired(self, now: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= now

    def effective_status(self, now: datetime | None = None) -> str:
        """Return the status a client sees: ``expired`` once an active key is past its expiry."""
        if self.status == self.Status.ACTIVE and self.is_expired(now or timezone.now()):
            return self.Status.EXPIRED
        return self.status

    def is_usable(self, now: datetime | None = None) -> bool:
        return self.effective_status(now) == self.Status.ACTIVE

    def has_permission(self, permission: str) -> bool:
        return permission in self.permissions

    def ip_allowed(self, ip: str | None) -> bool:
        """Return whether ``ip`` is inside the allowlist (an empty list allows every address)."""
        if not self.ip_allowlist:
            return True
        if not ip:
            return False
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            return False
        return any(
            address in ipaddress.ip_network(cidr, strict=False) for cidr in self.ip_allowlist
        )

    def allows_model(self, model: str) -> bool:
        """Return whether the key may use ``model`` (an empty list allows every model)."""
        return not self.allowed_models or model in self.allowed_models

    def effective_rate_limit(self) -> int:
        """Return requests per minute: the plan's, or the key's where it is lower."""
        plan_limit = self.organization.plan.rate_limit_per_minute
        if self.rate_limit_per_minute is None:
            return plan_limit
        return min(self.rate_limit_per_minute, plan_limit)

    def spent_today(self, day) -> int:
        """Return the credits counted on ``day`` (a UTC date, today's)."""
        return self.spend_day if self.spend_day_start == day else 0

    def spent_this_month(self, month) -> int:
        """Return the credits counted this month (``month`` is its first day, UTC)."""
        return self.spend_month if self.spend_month_start == month else 0


class KeyExpiryWarning(models.Model):
    """One expiry warning sent (or being sent) for one key, expiry and lead time.

    The unique row is claimed before the email goes out, so each warning is sent at most once
    however many workers run the schedule; a changed expiry gets warnings of its own.
    """

    key = models.ForeignKey(ApiKey, on_delete=models.CASCADE, related_name="expiry_warnings")
    expires_at = models.DateTimeField()
    days_before = models.PositiveSmallIntegerField()
    sent_at = models.DateTimeField(default=timezone.now)
    recipients = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["key", "expires_at", "days_before"], name="one_expiry_warning_each"
            )
        ]

    def __str__(self):
        return f"{self.days_before}-day expiry warning of {self.key.key_id}"


class KeySecret(models.Model):
    """One bearer secret of a key, as ``HMAC-SHA256(pepper, key)`` and the pepper's id.

    ``expires_at`` is set when the key is rotated with a grace period: the old secret keeps
    working until then. Secrets of revoked keys stay (the key's status refuses them).
    """

    key = models.ForeignKey(ApiKey, on_delete=models.CASCADE, related_name="secrets")
    secret_hash = models.CharField(max_length=64, unique=True)
    # Which pepper made the hash (``API_KEY_PEPPER_ID`` when it was stored).
    pepper_id = models.CharField(max_length=16, default="1")
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"secret of {self.key.key_id}"

    def is_current(self, now: datetime) -> bool:
        return self.expires_at is None or self.expires_at > now


class FormToken(models.Model):
    """One issued one-time form token of a page that shows a secret once (create, rotate).

    The page sends a signed token naming this row; the first submission claims the row with a
    conditional UPDATE, so a reload, the back button or a double click cannot act twice. Only
    the Key ID of the key made is kept, never its secret. Rows are purged after they expire.
    """

    nonce = models.CharField(max_length=32, unique=True)
    purpose = models.CharField(max_length=32)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(db_index=True)
    used_at = models.DateTimeField(null=True, blank=True)
    key_id = models.CharField("Key ID", max_length=32, blank=True)

    def __str__(self):
        return f"{self.purpose} form token"
