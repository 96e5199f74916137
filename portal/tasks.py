"""django-q2 entry points for the portal jobs: thin, they read settings and call services."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from portal.events import OUTGOING_CHANNELS, flush_outbox
from portal.inbound import load_handlers
from portal.models import OutboxEvent
from portal.services import outbox_prune, rejected_event_prune
from portal.status_sync import SyncResult, order_status_sync_run

logger = logging.getLogger(__name__)


def event_relay() -> dict[str, int]:
    """Job event-relay: publish what the after-commit flush could not, then prune old rows.

    Touches OutboxEvent (publishes unpublished rows per channel, oldest first,
    stopping a channel at its first Redis error) and RejectedEvent (prunes
    past retention). Safe to run twice at once: flush_outbox holds a Redis
    lock per channel, so a second relay skips a channel being flushed; the
    pruning deletes whatever old rows it still finds.
    """
    pending = set(
        OutboxEvent.objects.filter(published_at__isnull=True)
        .values_list("channel", flat=True)
        .distinct()
    )
    published = 0
    for channel in sorted(pending | set(OUTGOING_CHANNELS)):
        published += flush_outbox(channel)
    now = timezone.now()
    pruned = outbox_prune(older_than=now - timedelta(days=settings.EVENT_OUTBOX_RETENTION_DAYS))
    rejected = rejected_event_prune(
        older_than=now - timedelta(days=settings.REJECTED_EVENT_RETENTION_DAYS)
    )
    waiting = OutboxEvent.objects.filter(published_at__isnull=True).count()
    log = logger.warning if waiting else logger.info
    log("event-relay: published %d, %d still waiting for Redis; pruned %d outbox rows and "
        "%d rejected events", published, waiting, pruned, rejected)  # fmt: skip
    return {
        "published": published,
        "waiting": waiting,
        "pruned": pruned,
        "rejected_pruned": rejected,
    }


def order_status_sync() -> dict[str, object]:
    """Job order-status-sync: run the event handlers for order changes pub/sub did not deliver.

    Reads the portal's orders (since the watermark, with an overlap) and
    OrderSeen; writes whatever the handlers write, OrderSeen, the watermark
    and RejectedEvent for a handler that raised. Safe to run twice, and two
    at once: the handlers are idempotent, a handled order is recorded in
    OrderSeen and skipped next time, and the watermark only moves forward.
    """
    result: SyncResult = order_status_sync_run(handlers=load_handlers())
    logger.info(
        "order-status-sync: scanned %d orders; %d never seen, %d with a missed status change, "
        "%d handler failures; watermark %s",
        result.scanned, result.new_orders, result.status_changes, result.handler_failures,
        result.watermark,
    )  # fmt: skip
    return {
        "scanned": result.scanned,
        "new_orders": result.new_orders,
        "status_changes": result.status_changes,
        "handler_failures": result.handler_failures,
    }
