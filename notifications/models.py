from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class NotificationLevel(models.TextChoices):
    INFO = "info", "Info"
    WARNING = "warning", "Warning"
    CRITICAL = "critical", "Critical"


class EmailStatus(models.TextChoices):
    PENDING = "pending", "Pending"  # waiting for its (next) attempt, due at email_next_attempt_at
    SENDING = "sending", "Sending"  # claimed by a worker at email_claimed_at
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"  # gave up after the configured attempts, or a permanent error
    SKIPPED = "skipped", "Skipped"  # no email address: in the admin only


class AdminNotification(models.Model):
    """A message for one staff user, shown in the admin and sent by email."""

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="admin_notifications"
    )
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    level = models.CharField(
        max_length=10, choices=NotificationLevel.choices, default=NotificationLevel.INFO
    )
    order_id = models.CharField(max_length=64, blank=True, db_index=True)
    # A plain id, not a ForeignKey: notifications sits below vendors in the
    # import order and must not depend on it.
    vendor_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    dedupe_key = models.CharField(
        max_length=200,
        blank=True,
        help_text="The same key for the same recipient never makes a second notification.",
    )
    read_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    # Email delivery, driven by notifications/dispatch.py.
    email_status = models.CharField(
        max_length=10, choices=EmailStatus.choices, default=EmailStatus.PENDING, db_index=True
    )
    email_attempts = models.PositiveIntegerField(default=0)
    email_next_attempt_at = models.DateTimeField(
        default=timezone.now, help_text="When a pending email is due (after a retry's backoff)."
    )
    email_claimed_at = models.DateTimeField(
        null=True, blank=True, help_text="When a worker claimed it for sending."
    )
    email_sent_at = models.DateTimeField(null=True, blank=True)
    email_last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["recipient", "read_at"], name="notif_recipient_read"),
            # The retry sweep reads only the few rows still on their way.
            models.Index(
                fields=["email_next_attempt_at"],
                condition=models.Q(email_status__in=["pending", "sending"]),
                name="notif_email_due",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["recipient", "dedupe_key"],
                condition=~models.Q(dedupe_key=""),
                name="notification_once_per_key",
            )
        ]

    def __str__(self) -> str:
        return f"{self.title} -> {self.recipient}"


class ActorType(models.TextChoices):
    SYSTEM = "system", "System"
    USER = "user", "User"


class AuditLog(models.Model):
    """One state change made by the system or a person: who, what, before, after, why."""

    actor_type = models.CharField(max_length=10, choices=ActorType.choices)
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    actor_label = models.CharField(
        max_length=100, blank=True, help_text="Which job or rule acted, e.g. vendor-health-check."
    )
    action = models.CharField(max_length=100, db_index=True)
    target_type = models.CharField(max_length=50)
    target_id = models.CharField(max_length=64)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["target_type", "target_id"], name="audit_target")]

    def __str__(self) -> str:
        return f"{self.action} {self.target_type}:{self.target_id}"
