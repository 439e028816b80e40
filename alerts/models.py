"""Organization alert rules and the record of each firing and its delivery.

The tables keep the names they had when alerts lived in ``apikeys`` (``db_table``): the move
was of code and model state only, no row was copied.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone

from accounts.models import Organization
from apikeys.keys.models import ApiKey
from perceptis.crypto import EncryptedCharField
from webhooks.models import Outbox


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
    # Signs webhook deliveries (Standard Webhooks, ``whsec_`` and 32 bytes); shown to the
    # organization once, when it is made or replaced, so it can verify them. Stored encrypted
    # (the deliveries need it back).
    signing_secret = EncryptedCharField(max_length=255, blank=True)
    # Deprecated: sign with the older ``Perceptis-Signature: t=…,v1=…`` scheme instead. On for
    # the rules made before Standard Webhooks signatures (so their receivers keep verifying),
    # off for new ones; switching to Standard Webhooks replaces the secret.
    legacy_signature = models.BooleanField(default=False)
    enabled = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "apikeys_alertrule"
        ordering = ["organization", "name"]

    def __str__(self):
        return self.name


class AlertDelivery(Outbox):
    """One firing of a rule for one window, and the state of its delivery (``Outbox``)."""

    destination_field = "rule"
    sender = "alerts.channels.alert_send"

    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="deliveries")
    # The window this firing belongs to: a rule fires at most once per window.
    window_start = models.DateTimeField()
    value = models.FloatField()
    message = models.CharField(max_length=500)
    # What is sent, fixed when the rule fires, so every retry delivers the same document.
    payload = models.JSONField(default=dict, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    fired_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "apikeys_alertdelivery"
        verbose_name_plural = "alert deliveries"
        ordering = ["-fired_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["rule", "window_start"], name="one_firing_per_rule_window"
            )
        ]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="apikeys_ale_status_a525cc_idx")
        ]

    def __str__(self):
        return f"{self.rule} at {self.fired_at:%Y-%m-%d %H:%M}"
