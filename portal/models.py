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
