"""Organization alert rules and the record of each firing and its delivery."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from accounts.models import Organization
from apikeys.keys.models import ApiKey
from perceptis.crypto import EncryptedCharField


class AlertRule(models.Model):
    class Metric(models.TextChoices):
        REQUESTS = "requests", "Requests above N in the window"
        ERROR_RATE = "error_rate", "Error rate above P% in the window"
        P95_LATENCY = "p95_latency", "p95 latency above M ms in the window"
        CREDITS_BELOW = "credits_below", "Credit balance below C"
        KEY_EXPIRING = "key_expiring", "A key expires within D days"
        KEY_SPEND = "key_spend", "A key reached N% of its spend limit"
        ORG_SPEND = "org_spend", "The organization reached N% of its monthly spend limit"

    class Channel(models.TextChoices):
        EMAIL = "email", "Email"
        WEBHOOK = "webhook", "Signed JSON webhook"
        SLACK = "slack", "Slack incoming webhook"

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="alert_rules"
    )
    name = models.CharField(max_length=100)
    metric = models.CharField(max_length=16, choices=Metric.choices)
    threshold = models.FloatField()
    window_minutes = models.PositiveIntegerField(default=60)
    # None: all of the organization's keys.
    api_key = models.ForeignKey(
        ApiKey, on_delete=models.CASCADE, null=True, blank=True, related_name="alert_rules"
    )
    channel = models.CharField(max_length=8, choices=Channel.choices)
    destination = models.CharField(max_length=500, help_text="Email address or URL")
    # Signs webhook deliveries (HMAC-SHA256); shown to the organization once, when it is made
    # or replaced, so it can verify them. Stored encrypted (the deliveries need it back).
    signing_secret = EncryptedCharField(max_length=255, blank=True)
    enabled = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["organization", "name"]

    def __str__(self):
        return self.name


class AlertDelivery(models.Model):
    """One firing of a rule for one window, and the state of its delivery."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"

    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="deliveries")
    # The window this firing belongs to: a rule fires at most once per window.
    window_start = models.DateTimeField()
    value = models.FloatField()
    message = models.CharField(max_length=500)
    # What is sent, fixed when the rule fires, so every retry delivers the same document.
    payload = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    fired_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "alert deliveries"
        ordering = ["-fired_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["rule", "window_start"], name="one_firing_per_rule_window"
            )
        ]
        indexes = [models.Index(fields=["status", "next_attempt_at"])]

    def __str__(self):
        return f"{self.rule} at {self.fired_at:%Y-%m-%d %H:%M}"
