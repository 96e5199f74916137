"""Writes to the portal app's own tables: outbox retention, orders seen, watermarks."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from config.db import delete_in_batches
from portal.models import OrderSeen, OutboxEvent, RejectedEvent, SyncWatermark


def order_seen_record(*, order_id: str, status: str, event_id: str = "") -> OrderSeen:
    """Remember the status the back office last saw for an order (last writer wins)."""
    seen, _ = OrderSeen.objects.update_or_create(
        order_id=order_id,
        defaults={"status": status, "event_id": event_id[:200], "seen_at": timezone.now()},
    )
    return seen


def watermark_get(*, name: str) -> datetime | None:
    return SyncWatermark.objects.filter(name=name).values_list("value", flat=True).first()


def watermark_advance(*, name: str, value: datetime) -> None:
    """Move the watermark forward to `value`; never back (two runs at once may race)."""
    _, created = SyncWatermark.objects.get_or_create(name=name, defaults={"value": value})
    if not created:
        SyncWatermark.objects.filter(name=name, value__lt=value).update(value=value)


def outbox_prune(*, older_than: datetime, batch_size: int = 5000) -> int:
    """Delete events published before `older_than`; unpublished ones are never pruned."""
    return delete_in_batches(
        OutboxEvent.objects.filter(published_at__lt=older_than), batch_size=batch_size
    )


def rejected_event_prune(*, older_than: datetime, batch_size: int = 5000) -> int:
    return delete_in_batches(
        RejectedEvent.objects.filter(received_at__lt=older_than), batch_size=batch_size
    )
