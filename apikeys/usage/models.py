"""Usage figures per key and hour, and the log of individual API requests."""

from django.db import models
from django.utils import timezone

from accounts.models import Organization
from apikeys.keys.models import ApiKey

# Upper bounds (ms) of the latency histogram's buckets; a last bucket holds everything slower.
# Fixed buckets add up across processes with plain integer increments, and give p50/p95 to
# within a bucket, which is what a usage page needs.
LATENCY_BUCKETS_MS = (5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000)
BUCKET_FIELDS = tuple(f"latency_b{i}" for i in range(len(LATENCY_BUCKETS_MS) + 1))


class UsageHourly(models.Model):
    """Requests, errors and a latency histogram for one key in one UTC hour."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    api_key = models.ForeignKey(ApiKey, on_delete=models.CASCADE, related_name="usage")
    hour = models.DateTimeField()
    requests = models.PositiveIntegerField(default=0)
    errors = models.PositiveIntegerField(default=0)
    latency_ms_total = models.BigIntegerField(default=0)
    latency_b0 = models.PositiveIntegerField(default=0)
    latency_b1 = models.PositiveIntegerField(default=0)
    latency_b2 = models.PositiveIntegerField(default=0)
    latency_b3 = models.PositiveIntegerField(default=0)
    latency_b4 = models.PositiveIntegerField(default=0)
    latency_b5 = models.PositiveIntegerField(default=0)
    latency_b6 = models.PositiveIntegerField(default=0)
    latency_b7 = models.PositiveIntegerField(default=0)
    latency_b8 = models.PositiveIntegerField(default=0)
    latency_b9 = models.PositiveIntegerField(default=0)
    latency_b10 = models.PositiveIntegerField(default=0)
    latency_b11 = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name_plural = "hourly usage"
        ordering = ["-hour"]
        constraints = [
            models.UniqueConstraint(fields=["api_key", "hour"], name="one_usage_row_per_key_hour")
        ]
        indexes = [models.Index(fields=["organization", "hour"])]

    def __str__(self):
        return f"{self.api_key_id} {self.hour:%Y-%m-%d %H}:00 {self.requests} requests"

    def histogram(self) -> list[int]:
        return [getattr(self, f) for f in BUCKET_FIELDS]


class RequestLog(models.Model):
    """One API request: who, what, outcome and timing. Never a body, header value or key."""

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    api_key = models.ForeignKey(
        ApiKey, on_delete=models.CASCADE, null=True, blank=True, related_name="request_logs"
    )
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=255)
    status = models.PositiveSmallIntegerField()
    error_code = models.CharField(max_length=64, blank=True)
    latency_ms = models.PositiveIntegerField()
    client_ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=255, blank=True)
    request_id = models.CharField(max_length=64, db_index=True)
    # Requests the row stands for: 1, or all of an address's failed requests without a valid
    # key in one minute (``apikeys.usage.failures``), written at the start of the minute.
    count = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["organization", "-created_at"]),
            models.Index(fields=["api_key", "-created_at"]),
        ]

    def __str__(self):
        return f"{self.method} {self.path} {self.status}"
