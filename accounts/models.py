"""People, organizations, plans, memberships and the audit log."""

import secrets
import string
from datetime import UTC

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, PermissionsMixin
from django.contrib.auth.models import UserManager as DjangoUserManager
from django.db import models
from django.utils import timezone

from perceptis.models import AppendOnlyModel


class UserManager(DjangoUserManager):
    """Users sign in with their email address; there is no username."""

    use_in_migrations = True

    def _create_user(self, email, password, **extra_fields):
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra_fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", False)
        extra_fields.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra_fields)

    def create_superuser(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", True)
        extra_fields.setdefault("is_superuser", True)
        return self._create_user(email, password, **extra_fields)


class User(AbstractBaseUser, PermissionsMixin):
    email = models.EmailField(unique=True)
    full_name = models.CharField(max_length=150, blank=True)
    is_staff = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = []

    class Meta:
        ordering = ["email"]

    def __str__(self):
        return self.email

    def get_full_name(self):
        return self.full_name or self.email

    def get_short_name(self):
        return self.full_name or self.email


class Plan(models.Model):
    """A subscription plan: whether it reaches the API, its key limits and credit grant."""

    code = models.SlugField(max_length=32, unique=True)
    name = models.CharField(max_length=64)
    api_access = models.BooleanField(default=False)
    # None means unlimited.
    live_key_limit = models.PositiveIntegerField(null=True, blank=True)
    test_key_limit = models.PositiveIntegerField(null=True, blank=True)
    rate_limit_per_minute = models.PositiveIntegerField(default=60)
    monthly_credits = models.PositiveIntegerField(default=0)
    # Queued plus running jobs an organization may have at once.
    max_jobs_in_flight = models.PositiveIntegerField(default=0)
    # Requests per UTC day across all the organization's test keys (each key has its own too).
    test_daily_quota = models.PositiveIntegerField(default=0)
    # Keys an organization may create per UTC day by any means; revoked and deleted keys count,
    # so creating and revoking in a loop stays bounded. None means unlimited.
    key_creations_per_day = models.PositiveIntegerField(null=True, blank=True, default=0)
    # Projects an organization may have open at once (archived ones do not count; the Default
    # project does). None means unlimited.
    project_limit = models.PositiveIntegerField(null=True, blank=True, default=1)

    class Meta:
        ordering = ["id"]

    def __str__(self):
        return self.name

    def key_limit(self, key_type: str) -> int | None:
        """Return how many keys of ``key_type`` the plan allows (None: no limit)."""
        if not self.api_access:
            return 0
        return self.live_key_limit if key_type == "live" else self.test_key_limit


class Organization(models.Model):
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=64, unique=True)
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="organizations")
    created_at = models.DateTimeField(default=timezone.now)
    # Set by an owner: every member must have two-factor to use the organization's pages.
    require_two_factor = models.BooleanField(default=False)
    # The key policy, set by an owner or support: the longest a new key may live, in days
    # (1-366; None: no maximum), and whether every new key must have an expiry. A maximum
    # implies an expiry. Keys made before the policy keep working.
    key_max_lifetime_days = models.PositiveSmallIntegerField(null=True, blank=True)
    key_expiry_required = models.BooleanField(default=False)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(key_max_lifetime_days__isnull=True)
                | models.Q(key_max_lifetime_days__gte=1, key_max_lifetime_days__lte=366),
                name="key_max_lifetime_days_1_to_366",
            )
        ]

    def __str__(self):
        return self.name


class Membership(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner", "Owner"
        ADMIN = "admin", "Admin"
        MEMBER = "member", "Member"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.MEMBER)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "organization"], name="one_membership_per_org")
        ]
        ordering = ["organization__name"]

    def __str__(self):
        return f"{self.user} in {self.organization} ({self.role})"

    @property
    def can_manage_keys(self) -> bool:
        return self.role in (self.Role.OWNER, self.Role.ADMIN)


_ID_ALPHABET = string.ascii_letters + string.digits
# What a project id can look like: the API's filters refuse anything else before a query.
PROJECT_ID_PATTERN = r"^proj_[A-Za-z0-9]{1,35}$"


def new_project_id() -> str:
    """Return a fresh public project id: ``proj_`` and 20 random letters and digits."""
    return "proj_" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(20))


class Project(models.Model):
    """A part of an organization with its own keys, budget and admins.

    Every key belongs to one project, and every organization has exactly one Default project
    (created with the organization; the data migration moved older keys there). Jobs, ledger
    rows of jobs and webhook events name the project by its public id (``proj_…``), so the
    foreign keys to it use ``project_id`` and a job's status body needs no query to say it.

    ``spend_month`` is what the project's jobs submitted in the month starting
    ``spend_month_start`` hold or were charged, kept by the submission's and the settlement's
    conditional ``UPDATE``\\ s (``jobs.services.admission``), as the key's and the account's
    counters are: a submission checks ``monthly_spend_limit`` on this row alone.
    """

    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="projects"
    )
    project_id = models.CharField("Project ID", max_length=40, unique=True)
    name = models.CharField(max_length=100)
    is_default = models.BooleanField(default=False)
    # None: no limit of its own (the organization's and the keys' limits still hold).
    monthly_spend_limit = models.PositiveBigIntegerField(null=True, blank=True)
    # None: the plan's. No key of the project may have a higher rate limit.
    rate_limit_ceiling = models.PositiveIntegerField(null=True, blank=True)
    archived_at = models.DateTimeField(null=True, blank=True)
    spend_month_start = models.DateField(null=True, blank=True, editable=False)
    spend_month = models.BigIntegerField(default=0, db_default=0, editable=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-is_default", "name", "id"]
        # Support may archive a project in admin and change nothing else about it.
        permissions = [("archive_project", "Can archive projects")]
        constraints = [
            models.UniqueConstraint(
                fields=["organization"],
                condition=models.Q(is_default=True),
                name="one_default_project_per_org",
            ),
            models.CheckConstraint(
                condition=models.Q(is_default=False) | models.Q(archived_at__isnull=True),
                name="default_project_not_archived",
            ),
        ]

    def __str__(self):
        return f"{self.name} ({self.project_id})"

    @property
    def public_id(self) -> str:
        return self.project_id

    @property
    def is_archived(self) -> bool:
        return self.archived_at is not None

    def spent_this_month(self, month) -> int:
        """Return the credits counted this month (``month`` is its first day, UTC)."""
        return self.spend_month if self.spend_month_start == month else 0

    def spent_in_month_of(self, moment) -> int:
        """Return the credits counted in the UTC calendar month of ``moment`` (the month
        ``billing.periods.spend_periods`` gives, which this app sits below)."""
        return self.spent_this_month(moment.astimezone(UTC).date().replace(day=1))


class ProjectAdmin(models.Model):
    """A member who manages one project's keys and sees its usage, and nothing of the others.

    Owners and admins manage every project without such a row; the row only widens what a
    ``member`` may do, and is read on every request, so removing it applies to the next one.
    """

    membership = models.ForeignKey(
        Membership, on_delete=models.CASCADE, related_name="project_roles"
    )
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="admins")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["membership", "project"], name="one_project_admin_row_each"
            )
        ]

    def __str__(self):
        return f"{self.membership.user} administers {self.project}"


class AuditEvent(AppendOnlyModel):
    """One change, who made it and from where. Rows are only ever added."""

    class ActorType(models.TextChoices):
        USER = "user", "User"
        API_KEY = "api_key", "API key"
        SYSTEM = "system", "System"

    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="audit_events", null=True
    )
    action = models.CharField(max_length=64, db_index=True)
    actor_type = models.CharField(max_length=16, choices=ActorType.choices)
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    actor_key = models.ForeignKey(
        "apikeys.ApiKey", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # What the actor was called at the time, kept if the user or key later goes away.
    actor_label = models.CharField(max_length=255)
    target_type = models.CharField(max_length=64, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    target_label = models.CharField(max_length=255, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["organization", "-created_at"])]

    def __str__(self):
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_label} {self.action}"

    @property
    def action_label(self) -> str:
        """The action in words for people: ``api_key.secret_rotated`` is "API key secret
        rotated"."""
        subject, _, verb = self.action.partition(".")
        words = f"{subject} {verb}".replace("_", " ").strip().replace("api key", "API key")
        return words[:1].upper() + words[1:]


class Invitation(models.Model):
    """An emailed offer to join an organization with a role.

    Only the HMAC of the link's token is stored (``accounts.members.tokens``); the link works
    once and until ``expires_at``. Accepting, revoking and resending are services.
    """

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="invitations"
    )
    email = models.EmailField()
    role = models.CharField(max_length=16, choices=Membership.Role.choices)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        ACCEPTED = "accepted", "Accepted"
        REVOKED = "revoked", "Revoked"
        EXPIRED = "expired", "Expired"

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["organization", "email"])]

    def __str__(self):
        return f"{self.email} to {self.organization} as {self.role}"

    def status(self, now=None) -> str:
        """Return whether the invitation is pending, accepted, revoked or expired at ``now``."""
        if self.accepted_at is not None:
            return self.Status.ACCEPTED
        if self.revoked_at is not None:
            return self.Status.REVOKED
        if (now or timezone.now()) >= self.expires_at:
            return self.Status.EXPIRED
        return self.Status.PENDING

    def is_pending(self, now=None) -> bool:
        """Return whether the link still works at ``now``."""
        return self.status(now) == self.Status.PENDING
