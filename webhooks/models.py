"""Webhook endpoints an organization registers, one delivery row per event and endpoint, and
the outbox state every outbound delivery shares.

A delivery row is the outbox: it is written in the transaction of the change it reports, so it
exists if and only if that change committed; the queue and the sweep only trigger its attempts.
Any app's delivery model that subclasses ``Outbox`` is sent by the one engine,
``webhooks.delivery`` (alert deliveries are; this app does not know them).
"""

import secrets
from typing import ClassVar

from django.conf import settings
from django.db import models
from django.utils import timezone

from accounts.models import Organization, Project
from apikeys.keys.models import ApiKey
from perceptis.crypto import EncryptedCharField


class Event(models.TextChoices):
    JOB_SUCCEEDED = "job.succeeded", "A job succeeded"
    JOB_FAILED = "job.failed", "A job failed"
    JOB_CANCELED = "job.canceled", "A job was canceled"
    KEY_EXPOSED = "key.exposed", "A key was reported exposed and revoked"


def new_endpoint_id() -> str:
    return "we_" + secrets.token_urlsafe(16).replace("-", "").replace("_", "")[:20]


def new_message_id() -> str:
    return "msg_" + secrets.token_urlsafe(18).replace("-", "").replace("_", "")[:24]


class WebhookEndpoint(models.Model):
    # Live keys' events go to live endpoints only, test keys' to test endpoints only.
    Environment = ApiKey.Type

    public_id = models.CharField("Endpoint ID", max_length=32, unique=True, default=new_endpoint_id)
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="webhook_endpoints"
    )
    environment = models.CharField(max_length=8, choices=Environment.choices)
    # The project whose events it receives (its jobs' and its keys'), by public id; None: every
    # project's. Registered through the API, an endpoint belongs to the key's project, and only
    # keys of that project see it; owners and admins choose on the page.
    project = models.ForeignKey(
        Project,
        on_delete=models.PROTECT,
        to_field="project_id",
        null=True,
        blank=True,
        related_name="webhook_endpoints",
    )
    url = models.CharField("URL", max_length=500)
    description = models.CharField(max_length=200, blank=True)
    events = models.JSONField(default=list)
    enabled = models.BooleanField(default=True)
    # Signs the deliveries (Standard Webhooks ``whsec_…``); shown once, stored encrypted because
    # every delivery needs it back. After a rotation the previous secret also signs until
    # ``previous_secret_expires_at``, so receivers can switch without dropping a delivery.
    secret = EncryptedCharField(max_length=255)
    previous_secret = EncryptedCharField(max_length=255, blank=True)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["organization", "environment", "enabled"])]

    def __str__(self):
        return self.public_id

    def signing_secrets(self, now) -> list[str]:
        """Return the secrets that sign a delivery made at ``now``: the current one first."""
        expires = self.previous_secret_expires_at
        if self.previous_secret and expires and now < expires:
            return [self.secret, self.previous_secret]
        return [self.secret]


class Outbox(models.Model):
    """The state of one outbound message and its attempts, moved only by ``webhooks.delivery``.

    A subclass names the foreign key of its destination (``destination_field``: at most one
    attempt at a time goes to one destination) and the function that sends one attempt
    (``sender``, a dotted path to ``send(delivery) -> webhooks.delivery.Attempt``).
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    destination_field: ClassVar[str]
    sender: ClassVar[str]

    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    last_duration_ms = models.PositiveIntegerField(null=True, blank=True)
    # What went wrong, in words safe to show the organization; no response body is kept.
    last_error = models.CharField(max_length=300, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True

    @property
    def state(self) -> str:
        """What the pages call this delivery's state (``outbox_state``)."""
        return outbox_state(self.status, self.attempts)


def outbox_state(status: str, attempts: int) -> str:
    """Return what the pages call a delivery's state: ``succeeded``, ``failed``, ``retrying``
    (an attempt failed and another is scheduled) or ``queued`` (no attempt made yet).

    A pending delivery that has been tried is retrying, never "Pending": the pages show it
    with the next attempt's time.
    """
    if status != Outbox.Status.PENDING:
        return status
    return "retrying" if attempts else "queued"


class WebhookDelivery(Outbox):
    """One event for one endpoint: the message, fixed when it is made, and its attempts."""

    destination_field = "endpoint"
    sender = "webhooks.delivery.webhook_send"

    # The ``webhook-id`` header: the same on every attempt, so receivers can drop duplicates.
    public_id = models.CharField("Message ID", max_length=40, unique=True, default=new_message_id)
    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    event_type = models.CharField(max_length=40)
    payload = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "webhook deliveries"
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"]),
            models.Index(fields=["endpoint", "-created_at"]),
            models.Index(fields=["created_at"]),
        ]

    def __str__(self):
        return self.public_id


class DestinationLease(models.Model):
    """Who may send to a destination now: one outbound worker per endpoint or alert rule.

    ``destination`` is ``"<model label>:<destination id>"``. A row whose ``expires_at`` has
    passed is free; a worker that dies leaves its lease to expire, not to block for ever.
    """

    destination = models.CharField(max_length=100, unique=True)
    token = models.CharField(max_length=32)
    expires_at = models.DateTimeField()

    def __str__(self):
        return self.destination


class WebhookAttempt(models.Model):
    """One attempt of a delivery: what the receiver answered, how fast, and its first 2 KB."""

    # What the pages keep of a receiver's answer: enough to see an error message.
    BODY_BYTES = 2048

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="tries")
    number = models.PositiveSmallIntegerField()
    started_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField()
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    # The first BODY_BYTES of the answer, decoded leniently; empty when none came back.
    response_body = models.TextField(blank=True)
    error = models.CharField(max_length=300, blank=True)
    succeeded = models.BooleanField(default=False)

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["delivery", "-started_at"])]

    def __str__(self):
        return f"{self.delivery_id} #{self.number}"
