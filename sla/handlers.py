"""Handlers of inbound portal events (registered in settings.EVENT_HANDLERS)."""

from __future__ import annotations

import logging

from portal.events import InboundEvent
from portal.schema import CLOSED_STATUSES
from sla.services import sla_alerts_resolve

logger = logging.getLogger(__name__)


def resolve_alerts_on_close(event: InboundEvent) -> None:
    """order:status:changed -> a closed order's open SLA alerts get resolved_at.

    Idempotent: only alerts still open are resolved (and audited), so the same
    event twice, or the event and order-status-sync, change nothing the second time.
    """
    status = event.data.get("status")
    if status not in CLOSED_STATUSES:
        return
    resolved = sla_alerts_resolve(
        order_id=event.order_id, status=status, actor="sla.handlers.resolve_alerts_on_close"
    )
    if resolved:
        logger.info("order %s is %s: resolved %d SLA alert(s)", event.order_id, status, resolved)
