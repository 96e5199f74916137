"""Handlers of inbound portal events (registered in settings.EVENT_HANDLERS)."""

from __future__ import annotations

from portal.events import InboundEvent
from vendors.assignment import order_assign_vendor


def assign_vendor_on_new_order(event: InboundEvent) -> None:
    """order:new: give the order a vendor if it has none. Idempotent (conditional update)."""
    order_assign_vendor(order_id=event.order_id)
