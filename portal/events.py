"""Events exchanged with the client portal over Redis pub/sub.

Outgoing: `publish(channel, data)` is the one way to publish. It writes the
event to the outbox in the caller's transaction; after the commit the
channel's outbox is flushed to Redis in order. If Redis is down the rows
wait for the relay job (portal.tasks.event_relay). Nothing is published for
a transaction that rolls back, and nothing is lost by a crash after commit.

Every message is one JSON object: {"id", "type", "occurredAt", "data"}.
"""

from __future__ import annotations

import contextlib
import json
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import redis
from django.db import transaction
from django.utils import timezone

from config.redis import get_redis
from portal.models import OutboxEvent

logger = logging.getLogger(__name__)

VENDOR_STATUS_CHANGED = "vendor:status:changed"
SLA_BREACHED = "sla:breached"
ORDER_NEW = "order:new"
ORDER_STATUS_CHANGED = "order:status:changed"
OUTGOING_CHANNELS = (VENDOR_STATUS_CHANGED, SLA_BREACHED)
INBOUND_CHANNELS = (ORDER_NEW, ORDER_STATUS_CHANGED)

FLUSH_BATCH = 200
_FLUSH_LOCK_SECONDS = 30


def envelope(*, event_id: uuid.UUID, channel: str, occurred_at: datetime, data: dict) -> str:
    return json.dumps(
        {
            "id": str(event_id),
            "type": channel,
            "occurredAt": occurred_at.isoformat().replace("+00:00", "Z"),
            "data": data,
        },
        separators=(",", ":"),
        default=str,
    )


def publish(channel: str, data: dict[str, Any]) -> OutboxEvent:
    """Queue an event for `channel`; it goes out once the current transaction commits."""
    if channel not in OUTGOING_CHANNELS:
        raise ValueError(f"not an outgoing channel: {channel!r}")
    event_id = uuid.uuid4()
    now = timezone.now()
    event = OutboxEvent.objects.create(
        event_id=event_id,
        channel=channel,
        payload=envelope(event_id=event_id, channel=channel, occurred_at=now, data=data),
        created_at=now,
    )
    transaction.on_commit(lambda: flush_outbox(channel))
    return event


def flush_outbox(channel: str) -> int:
    """Publish the channel's unpublished events, oldest first; stop at the first failure.

    A short Redis lock per channel keeps two flushers from interleaving (which
    would reorder events); whoever does not get it leaves the rows to the one
    that did, or to the relay. Returns how many were published.
    """
    client = get_redis()
    lock_key = f"outbox:flush:{channel}"
    try:
        if not client.set(lock_key, "1", nx=True, ex=_FLUSH_LOCK_SECONDS):
            return 0
    except redis.RedisError as exc:
        logger.warning(
            "outbox %s: Redis unavailable, the relay will publish later: %s", channel, exc
        )
        return 0
    try:
        return _publish_pending(client, channel)
    finally:
        with contextlib.suppress(redis.RedisError):  # else the lock expires by itself
            client.delete(lock_key)


def _publish_pending(client: redis.Redis, channel: str) -> int:
    """Batch after batch until the channel is drained or Redis fails."""
    published = 0
    while True:
        pending = OutboxEvent.objects.filter(channel=channel, published_at__isnull=True)
        batch = list(pending.order_by("id")[:FLUSH_BATCH])
        if not batch:
            return published
        for event in batch:
            if not _publish_one(client, event):
                return published
            published += 1


def _publish_one(client: redis.Redis, event: OutboxEvent) -> bool:
    try:
        client.publish(event.channel, event.payload)
    except redis.RedisError as exc:
        OutboxEvent.objects.filter(pk=event.pk).update(
            attempts=event.attempts + 1, last_error=str(exc)[:1000]
        )
        logger.warning("outbox %s: publishing %s failed: %s", event.channel, event.event_id, exc)
        return False
    OutboxEvent.objects.filter(pk=event.pk, published_at__isnull=True).update(
        published_at=timezone.now(), attempts=event.attempts + 1
    )
    return True


@dataclass(frozen=True)
class InboundEvent:
    """A validated message from the portal, as every inbound handler receives it.

    `data` always holds `orderId` (a non-empty string). order-status-sync builds
    these too, from the database, so handlers cannot tell the two apart.
    """

    id: str
    channel: str
    data: dict[str, Any]
    occurred_at: datetime | None = None

    @property
    def order_id(self) -> str:
        return self.data["orderId"]
