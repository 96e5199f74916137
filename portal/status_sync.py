"""order-status-sync: what pub/sub lost, found again in the database.

Pub/sub delivers at most once (a listener that is down or reconnecting
misses messages). This reads the portal's orders changed since a watermark
(orders.updated_at, re-reading an overlap behind it), compares each with the
status the back office last saw (OrderSeen), and for each difference runs
the same handlers, through the same per-message wrapper, as the event would
have: an order never seen gets the "order:new" handlers and then the
"order:status:changed" ones; a changed status gets "order:status:changed".
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from portal import orders as portal_orders
from portal.events import ORDER_NEW, ORDER_STATUS_CHANGED, InboundEvent
from portal.inbound import HandlerTable, run_handlers
from portal.models import OrderSeen
from portal.orders import OrderRow
from portal.services import watermark_advance, watermark_get

logger = logging.getLogger(__name__)

WATERMARK = "order-status-sync"
BATCH_SIZE = 500
EVENT_ID_PREFIX = "order-status-sync"


@dataclass
class SyncResult:
    scanned: int = 0
    new_orders: int = 0
    status_changes: int = 0
    handler_failures: int = 0
    watermark: datetime | None = None


def events_for(order: OrderRow, seen_status: str | None) -> list[InboundEvent]:
    """The events the back office missed for this order, as the portal would have sent them."""
    stamp = order.updated_at.isoformat()
    status_data = {"orderId": order.id, "status": order.status}
    if seen_status is not None:
        status_data["previousStatus"] = seen_status
    status_changed = InboundEvent(
        id=f"{EVENT_ID_PREFIX}:{order.id}:{order.status}:{stamp}",
        channel=ORDER_STATUS_CHANGED,
        data=status_data,
        occurred_at=order.updated_at,
    )
    if seen_status is not None:
        return [status_changed]
    new = InboundEvent(
        id=f"{EVENT_ID_PREFIX}:{order.id}:new",
        channel=ORDER_NEW,
        data={
            "orderId": order.id,
            "clientId": order.client_id,
            "packageId": order.package_id,
            "packageType": order.package_type,
            "status": order.status,
        },
        occurred_at=order.created_at,
    )
    return [new, status_changed]


def _as_raw(event: InboundEvent) -> bytes:
    """The event as a message, for the log and a RejectedEvent if a handler fails."""
    return json.dumps(
        {
            "id": event.id,
            "type": event.channel,
            "occurredAt": event.occurred_at,
            "data": event.data,
        },
        default=str,
    ).encode()


def _start(now: datetime) -> datetime:
    watermark = watermark_get(name=WATERMARK)
    if watermark is None:
        return now - timedelta(hours=settings.ORDER_STATUS_SYNC_INITIAL_LOOKBACK_HOURS)
    return watermark - timedelta(seconds=settings.ORDER_STATUS_SYNC_OVERLAP_SECONDS)


def order_status_sync_run(*, handlers: HandlerTable, batch_size: int = BATCH_SIZE) -> SyncResult:
    """Reconcile every order changed since the watermark; see the module docstring."""
    result = SyncResult()
    cursor_at, cursor_id = _start(timezone.now()), ""
    while True:
        page = portal_orders.orders_changed_since(
            updated_at=cursor_at, after_id=cursor_id, limit=batch_size
        )
        if not page:
            return result
        seen = dict(
            OrderSeen.objects.filter(order_id__in=[o.id for o in page]).values_list(
                "order_id", "status"
            )
        )
        for order in page:
            seen_status = seen.get(order.id)
            if seen_status == order.status:
                continue
            events = events_for(order, seen_status)
            if seen_status is None:
                result.new_orders += 1
            else:
                result.status_changes += 1
            for event in events:
                result.handler_failures += run_handlers(event, handlers, raw=_as_raw(event))
        result.scanned += len(page)
        cursor_at, cursor_id = page[-1].updated_at, page[-1].id
        # After each page, so a run killed by the task timeout keeps its progress.
        watermark_advance(name=WATERMARK, value=cursor_at)
        result.watermark = cursor_at
