"""The portal app's own handlers of inbound events (registered in settings.EVENT_HANDLERS)."""

from __future__ import annotations

from portal.events import InboundEvent
from portal.services import order_seen_record


def record_order_status(event: InboundEvent) -> None:
    """order:status:changed: remember the status the back office saw, for order-status-sync.

    Idempotent: the same event twice writes the same row.
    """
    order_seen_record(order_id=event.order_id, status=event.data["status"], event_id=event.id)
