"""Inbound event handlers of escalation (registered in settings.EVENT_HANDLERS)."""

from __future__ import annotations

import logging

from escalation.services import executions_cancel_for_order
from portal.events import InboundEvent
from portal.schema import CLOSED_STATUSES

logger = logging.getLogger(__name__)


def cancel_pending_on_close(event: InboundEvent) -> None:
    """order:status:changed to a closed status: the order's pending executions are cancelled.

    Idempotent: only pending executions change, by a conditional UPDATE; a
    second call finds none. order-status-sync calls it too for what pub/sub lost.
    """
    status = event.data.get("status")
    if status not in CLOSED_STATUSES:
        return
    cancelled = executions_cancel_for_order(
        order_id=event.order_id, reason=f"order closed ({status}), event {event.id}"
    )
    if cancelled:
        logger.info("order %s closed: %s pending escalations cancelled", event.order_id, cancelled)
