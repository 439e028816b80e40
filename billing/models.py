"""The organization's credit pool and its append-only ledger.

``CreditAccount.balance`` is what can still be spent: it always equals the sum of the
account's ledger amounts and never goes below zero (a database constraint).

- grant: +N, credits given (plan grant, purchase, opening balance)
- adjustment: ±N by a support person, with a reason
- reserve: -cost when a job is submitted
- capture: 0, the reservation becomes the charge when the job succeeds
- release: +cost, the reservation is returned when the job finally fails or is canceled

A job has at most one reserve and at most one of capture/release (unique constraints).
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from accounts.models import Organization
from perceptis.models import AppendOnlyModel


class CreditAccount(models.Model):
    organization = models.OneToOneField(
        Organization, on_delete=models.PROTECT, related_name="credit_account"
    )
    balance = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(balance__gte=0), name="balance_not_negative")
        ]

    def __str__(self):
        return f"{self.organization}: {self.balance} credits"


class LedgerEntry(AppendOnlyModel):
    class Kind(models.TextChoices):
        GRANT = "grant", "Grant"
        ADJUSTMENT = "adjustment", "Adjustment"
        RESERVE = "reserve", "Reserve"
        CAPTURE = "capture", "Capture"
        RELEASE = "release", "Release"

    account = models.ForeignKey(CreditAccount, on_delete=models.PROTECT, related_name="entries")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    amount = models.BigIntegerField()
    # The job link survives the job's retention purge as ``job_ref`` (its public id).
    job = models.ForeignKey(
        "jobs.Job", on_delete=models.SET_NULL, null=True, blank=True, related_name="ledger_entries"
    )
    job_ref = models.CharField(max_length=40, blank=True)
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
        indexes = [models.Index(fields=["account", "-created_at"])]
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
