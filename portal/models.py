"""Read-only views of the portal's tables for the admin.

The portal owns these tables; Django never creates or alters them
(managed = False), and the project writes them only through portal/orders.py
with raw SQL. These models exist so ops can browse orders and clients in the
admin and so notifications can link to an order's admin page.
"""

from __future__ import annotations

from django.db import models

from portal.schema import ORDER_STATUSES


class Client(models.Model):
    id = models.CharField(primary_key=True, max_length=64)
    name = models.CharField(max_length=200)
    tier = models.CharField(max_length=32)
    created_at = models.DateTimeField()

    class Meta:
        managed = False
        db_table = "clients"
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.id})"


class Order(models.Model):
    id = models.CharField(primary_key=True, max_length=64)
    client = models.ForeignKey(Client, on_delete=models.DO_NOTHING, db_constraint=False)
    package_id = models.CharField(max_length=64)
    package_type = models.CharField(max_length=64)
    status = models.CharField(max_length=32, choices=[(s, s) for s in ORDER_STATUSES])
    vendor_id = models.BigIntegerField(null=True)
    assigned_to_id = models.IntegerField(null=True)
    escalation_level = models.IntegerField()
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        managed = False
        db_table = "orders"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.id


class OutboxEvent(models.Model):
    """An outgoing event, written in the transaction that caused it, published after commit.

    Published at least once: a crash between the Redis PUBLISH and the
    published_at update publishes it again, and subscribers dedupe by
    `event_id`. The auto-increment id orders events within a channel.
    """

    event_id = models.UUIDField(unique=True, editable=False)
    channel = models.CharField(max_length=100)
    payload = models.TextField(help_text="The JSON envelope, exactly as published.")
    created_at = models.DateTimeField(db_index=True)
    published_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(
                fields=["channel", "id"],
                condition=models.Q(published_at__isnull=True),
                name="outbox_unpublished",
            )
        ]

    def __str__(self) -> str:
        return f"{self.channel} {self.event_id}"


class RejectReason(models.TextChoices):
    TOO_LARGE = "too_large", "Too large"
    NOT_UTF8 = "not_utf8", "Not UTF-8"
    NOT_JSON = "not_json", "Not JSON"
    NOT_OBJECT = "not_object", "Not a JSON object"
    BAD_DATA = "bad_data", "Malformed data"
    MISSING_ORDER_ID = "missing_order_id", "No orderId"
    BAD_ORDER_ID = "bad_order_id", "Malformed orderId"
    BAD_STATUS = "bad_status", "Missing or malformed status"
    UNKNOWN_CHANNEL = "unknown_channel", "Unknown channel"
    HANDLER_FAILED = "handler_failed", "A handler raised"


class RejectedEvent(models.Model):
    """An inbound message that was malformed, or whose handler raised, kept for review.

    The listener and order-status-sync write these and carry on; nothing
    reads them but people (admin, read-only).
    """

    channel = models.CharField(max_length=200)
    reason = models.CharField(max_length=32, choices=RejectReason.choices, db_index=True)
    detail = models.TextField(blank=True, help_text="What exactly was wrong, or the traceback.")
    raw = models.TextField(
        blank=True, help_text="The message as received (truncated; undecodable bytes escaped)."
    )
    raw_size = models.PositiveIntegerField(help_text="Size of the whole message in bytes.")
    order_id = models.CharField(max_length=64, blank=True, db_index=True)
    handler = models.CharField(max_length=200, blank=True)
    received_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-received_at", "-id"]

    def __str__(self) -> str:
        return f"{self.channel}: {self.get_reason_display()}"


class OrderSeen(models.Model):
    """The status of an order as the back office last saw it (by event or by order-status-sync).

    order-status-sync compares it with the portal's orders to find what
    pub/sub lost.
    """

    order_id = models.CharField(max_length=64, unique=True)
    status = models.CharField(max_length=32)
    event_id = models.CharField(max_length=200, blank=True, help_text="The event that told us.")
    seen_at = models.DateTimeField()

    class Meta:
        ordering = ["-seen_at"]
        verbose_name_plural = "orders seen"

    def __str__(self) -> str:
        return f"{self.order_id}: {self.status}"


class SyncWatermark(models.Model):
    """How far a reconciliation job has read (e.g. orders.updated_at for order-status-sync)."""

    name = models.CharField(max_length=100, primary_key=True)
    value = models.DateTimeField()
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.name} @ {self.value.isoformat()}"
