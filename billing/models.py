"""The organization's credit pool and its append-only ledger.

``CreditAccount.balance`` is what can still be spent: it always equals the sum of the
account's ledger amounts and never goes below zero (a database constraint).

- grant: +N, credits given (plan grant, purchase, opening balance)
- adjustment: ±N by a support person, with a reason
- reserve: -R when a job is submitted, R the most the job can cost
- capture: +(R - C) when the job succeeds, or is canceled after its engine returned: C, what
  the engine reported it used, stays charged and the rest of the reservation comes back in the
  same row (0 when the job cost all it reserved)
- release: +R, the reservation is returned when the job finally fails, or is canceled before
  its engine returned (queued, or running and stopped before a result came back)

A job has at most one reserve and at most one of capture/release (unique constraints), so a
finished job's net charge is the sum of its two rows.

``ModelPrice`` is the price table: what each model costs per 1,000 tokens, its output cap and,
through ``ModelAccess``, the plans that may use it and each plan's default model.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from accounts.models import Organization, Plan, Project
from perceptis.models import AppendOnlyModel


class CreditAccount(models.Model):
    organization = models.OneToOneField(
        Organization, on_delete=models.PROTECT, related_name="credit_account"
    )
    balance = models.BigIntegerField(default=0)
    # None: no limit. Credits the organization's jobs may reserve and be charged per calendar
    # month (UTC), set by an owner.
    monthly_spend_limit = models.PositiveBigIntegerField(null=True, blank=True)
    # Kept by the submission's and the workers' UPDATEs (``jobs.services.admission``) so that a
    # submission checks its caps on this row alone: the organization's queued and running jobs
    # (test keys' included), and what its jobs submitted in the month starting
    # ``spend_month_start`` hold or were charged.
    jobs_in_flight = models.IntegerField(default=0, db_default=0, editable=False)
    spend_month_start = models.DateField(null=True, blank=True, editable=False)
    spend_month = models.BigIntegerField(default=0, db_default=0, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(balance__gte=0), name="balance_not_negative")
        ]

    def __str__(self):
        return f"{self.organization}: {self.balance} credits"

    def spent_this_month(self, month) -> int:
        """Return the credits counted this month (``month`` is its first day, UTC)."""
        return self.spend_month if self.spend_month_start == month else 0


class LedgerEntry(AppendOnlyModel):
    class Kind(models.TextChoices):
        GRANT = "grant", "Grant"
        ADJUSTMENT = "adjustment", "Adjustment"
        RESERVE = "reserve", "Reserve"
        CAPTURE = "capture", "Capture"
        RELEASE = "release", "Release"

    # Served by the (account, -created_at) index: every submission writes a row.
    account = models.ForeignKey(
        CreditAccount, on_delete=models.PROTECT, related_name="entries", db_index=False
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    amount = models.BigIntegerField()
    # The job link survives the job's retention purge as ``job_ref`` (its public id).
    job = models.ForeignKey(
        "jobs.Job", on_delete=models.SET_NULL, null=True, blank=True, related_name="ledger_entries"
    )
    job_ref = models.CharField(max_length=40, blank=True)
    # The job's project on a job's rows (reserve, capture, release); null on grants and
    # adjustments, which are the organization's.
    project = models.ForeignKey(
        Project,
        on_delete=models.PROTECT,
        to_field="project_id",
        null=True,
        blank=True,
        related_name="ledger_entries",
        db_index=False,  # its index is in Meta: without the pattern-matching twin
    )
    reason = models.CharField(max_length=255, blank=True)
    # The billing period ("2026-11") of a plan's recurring grant: one grant per period.
    period = models.CharField(max_length=7, null=True, blank=True)  # noqa: DJ001 (NULL: no period)
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    actor_label = models.CharField(max_length=255, blank=True)
    balance_after = models.BigIntegerField()
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        verbose_name_plural = "ledger entries"
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["account", "-created_at"]),
            models.Index(fields=["project"], name="ledger_project_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["job"], condition=Q(kind="reserve"), name="one_reserve_per_job"
            ),
            models.UniqueConstraint(
                fields=["job"],
                condition=Q(kind__in=["capture", "release"]),
                name="one_settlement_per_job",
            ),
            models.UniqueConstraint(
                fields=["account", "period"],
                condition=Q(period__isnull=False),
                name="one_plan_grant_per_period",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=["grant", "adjustment"]) | ~Q(job_ref=""),
                name="job_entries_name_their_job",
            ),
        ]

    def __str__(self):
        return f"{self.kind} {self.amount:+d}"


class ModelPrice(models.Model):
    """One model a job may ask for, and what it costs. Nothing else reaches an engine."""

    model = models.CharField(max_length=100, unique=True)
    input_credits_per_1k_tokens = models.DecimalField(max_digits=12, decimal_places=4)
    output_credits_per_1k_tokens = models.DecimalField(max_digits=12, decimal_places=4)
    max_output_tokens = models.PositiveIntegerField()
    plans = models.ManyToManyField(
        Plan, through="ModelAccess", related_name="model_prices", blank=True
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["model"]
        constraints = [
            models.CheckConstraint(
                condition=Q(input_credits_per_1k_tokens__gte=0)
                & Q(output_credits_per_1k_tokens__gte=0)
                & Q(max_output_tokens__gte=1),
                name="model_price_sane",
            )
        ]

    def __str__(self):
        return self.model

    @property
    def public_id(self) -> str:
        return self.model


class ModelAccess(models.Model):
    """A plan may use a model; at most one model per plan is its default."""

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="model_access")
    price = models.ForeignKey(ModelPrice, on_delete=models.CASCADE, related_name="access")
    is_default = models.BooleanField(default=False)

    class Meta:
        verbose_name_plural = "model access"
        constraints = [
            models.UniqueConstraint(fields=["plan", "price"], name="one_access_per_plan_model"),
            models.UniqueConstraint(
                fields=["plan"], condition=Q(is_default=True), name="one_default_model_per_plan"
            ),
        ]

    def __str__(self):
        return f"{self.plan} may use {self.price}" + (" (default)" if self.is_default else "")
