"""Generation jobs. The ``Job`` row is the truth; the queue only triggers work on it."""

import re

from django.db import models
from django.db.models import Q
from django.utils import timezone

from accounts.models import Organization, Project
from apikeys.keys.models import ApiKey

# What a job id can look like: anything else (too long, unicode, NUL) is refused before a query,
# since PostgreSQL refuses NUL in a text parameter with an error, which would be a 500.
_JOB_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,40}\Z")


class Job(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELED = "canceled", "Canceled"

    IN_FLIGHT = (Status.QUEUED, Status.RUNNING)
    FINISHED = (Status.SUCCEEDED, Status.FAILED, Status.CANCELED)

    # Every submission inserts a row and updates each of its indexes, so the table has none that
    # another already serves: unique by a constraint (``unique=True`` would add a second,
    # pattern-matching index no lookup uses), and the foreign keys by the composite indexes
    # below that begin with them.
    job_id = models.CharField(max_length=40)
    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="jobs", db_index=False
    )
    # Jobs belong to the key, not to one of its secrets: rotation keeps them reachable.
    api_key = models.ForeignKey(
        ApiKey, on_delete=models.PROTECT, related_name="jobs", db_index=False
    )
    # The key's project when the job was submitted (a key moved later leaves its jobs, and
    # their spend, where they were), by its public id.
    project = models.ForeignKey(
        Project,
        on_delete=models.PROTECT,
        to_field="project_id",
        related_name="jobs",
        db_index=False,
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    test = models.BooleanField(default=False)
    prompt = models.TextField()
    options = models.JSONField(default=dict, blank=True)
    result = models.JSONField(null=True, blank=True)
    error_code = models.CharField(max_length=64, blank=True)
    error_message = models.CharField(max_length=500, blank=True)
    # The price-table model and output cap the job was priced for; the engine gets exactly these.
    model = models.CharField(max_length=100, blank=True)
    max_tokens = models.PositiveIntegerField(null=True, blank=True)
    # The model's rates when the job was submitted (credits per 1,000 tokens): the job is charged
    # at these, whatever the price table says later.
    input_credits_per_1k_tokens = models.DecimalField(
        max_digits=12, decimal_places=4, null=True, blank=True
    )
    output_credits_per_1k_tokens = models.DecimalField(
        max_digits=12, decimal_places=4, null=True, blank=True
    )
    # Tokens the engine reported; NULL until the job finishes.
    input_tokens = models.PositiveIntegerField(null=True, blank=True)
    output_tokens = models.PositiveIntegerField(null=True, blank=True)
    credits_reserved = models.PositiveIntegerField(default=0)
    credits_charged = models.PositiveIntegerField(default=0)
    # NULL, not "", so that the partial unique constraint ignores jobs without a key.
    idempotency_key = models.CharField(max_length=255, null=True, blank=True)  # noqa: DJ001
    request_hash = models.CharField(max_length=64, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    enqueued_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # When a client, a member or support asked to cancel the job. A queued job is canceled at
    # once; a running one is stopped by its worker at the next step (or by the reconciler once
    # its lease has expired), and is charged only what the engine reported.
    cancel_requested_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status", "enqueued_at"]),
            models.Index(fields=["organization", "-created_at"]),
            models.Index(fields=["project", "-created_at"], name="jobs_project_newest_idx"),
            # The retention purge finds finished jobs by age.
            models.Index(fields=["status", "finished_at"]),
            # Jobs in flight per organization.
            models.Index(fields=["organization", "status"]),
            # A key's jobs newest first (the list API), and a key's spend in a period.
            models.Index(fields=["api_key", "-created_at", "-id"], name="jobs_key_newest_idx"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["job_id"], name="one_job_per_job_id"),
            models.UniqueConstraint(
                fields=["api_key", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="one_job_per_idempotency_key",
            ),
        ]

    def __str__(self):
        return self.job_id

    @staticmethod
    def is_valid_id(value) -> bool:
        """Whether ``value`` could be a job id at all (checked before any query)."""
        return isinstance(value, str) and bool(_JOB_ID_RE.match(value))

    @property
    def public_id(self) -> str:
        return self.job_id

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED

    @property
    def cancel_requested(self) -> bool:
        return self.cancel_requested_at is not None

    @property
    def usage(self) -> dict | None:
        if self.input_tokens is None or self.output_tokens is None:
            return None
        return {"input_tokens": self.input_tokens, "output_tokens": self.output_tokens}

    @property
    def error(self) -> dict | None:
        if not self.error_code:
            return None
        return {"code": self.error_code, "message": self.error_message}


class CostHourly(models.Model):
    """What one key's jobs on one model, submitted in one UTC hour, cost: the costs rollup.

    ``credits`` is the ledger's net for those jobs (their reserve rows plus their capture or
    release: what finished jobs were charged, and what queued or running ones still hold), so
    the rollup sums to the ledger. Rows are written only by ``jobs.costs.services.costs_rollup``
    on the worker, which recomputes whole hours; the hours it has not rolled up yet are read
    from the jobs and the ledger themselves.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    api_key = models.ForeignKey(ApiKey, on_delete=models.CASCADE, related_name="+")
    # The project the jobs were submitted in (``Job.project``): a key moved to another project
    # later has rows in both.
    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, to_field="project_id", related_name="+"
    )
    hour = models.DateTimeField()
    model = models.CharField(max_length=100, blank=True)
    # A test key's jobs: watermarked and free, always rows of their own.
    test = models.BooleanField(default=False)
    jobs = models.PositiveIntegerField(default=0)
    input_tokens = models.BigIntegerField(default=0)
    output_tokens = models.BigIntegerField(default=0)
    credits = models.BigIntegerField(default=0)

    class Meta:
        verbose_name_plural = "hourly costs"
        ordering = ["-hour"]
        constraints = [
            models.UniqueConstraint(
                fields=["api_key", "hour", "model", "project"],
                name="one_cost_row_per_key_hour_model",
            )
        ]
        indexes = [models.Index(fields=["organization", "hour"], name="jobs_cost_org_hour_idx")]

    def __str__(self):
        return f"{self.api_key_id} {self.model} {self.hour:%Y-%m-%d %H}:00 {self.credits} credits"


class CostRollup(models.Model):
    """The costs rollup's progress: one row. Hours before ``rolled_until`` are in
    ``CostHourly``; ``ran_at`` is when the last run began (the next one recomputes the hours of
    jobs that finished since, so a late settlement reaches its hour)."""

    rolled_until = models.DateTimeField(null=True, blank=True)
    ran_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"costs rolled up until {self.rolled_until}"
