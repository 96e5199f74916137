"""Events exchanged with the client portal over Redis pub/sub.

Outgoing: `publish(channel, data)` is the one way to publish. It writes the
event to the outbox in the caller's transaction; after the commit the
channel's outbox is flushed to Redis in order. If Redis is down the rows
wait for the relay job (portal.tasks.event_relay). Nothing is published for
a transaction that rolls back, and nothing is lost by a crash after commit.
`publish_many(channel, datas)` does the same for many events in a few
statements (one bulk INSERT, one flush after the commit).

Delivery is at least once: a flush sends up to FLUSH_BATCH events in one
Redis pipeline and then marks them published with one UPDATE, so a crash
(or a lost connection) between the two sends that batch again on the next
flush. Subscribers dedupe by the envelope's `id`.

Every message is one JSON object: {"id", "type", "occurredAt", "data"}.
"""

from __future__ import annotations

import contextlib
import json
import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import redis
from django.db import transaction
from django.db.models import F
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

# Events per Redis pipeline and per published_at UPDATE: the most a crash can resend.
FLUSH_BATCH = 1000
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


def _outbox_event(channel: str, data: dict[str, Any], now: datetime) -> OutboxEvent:
    event_id = uuid.uuid4()
    return OutboxEvent(
        event_id=event_id,
        channel=channel,
        payload=envelope(event_id=event_id, channel=channel, occurred_at=now, data=data),
        created_at=now,
    )


def _check_outgoing(channel: str) -> None:
    if channel not in OUTGOING_CHANNELS:
        raise ValueError(f"not an outgoing channel: {channel!r}")


def publish(channel: str, data: dict[str, Any]) -> OutboxEvent:
    """Queue an event for `channel`; it goes out once the current transaction commits."""
    _check_outgoing(channel)
    event = _outbox_event(channel, data, timezone.now())
    event.save(force_insert=True)
    transaction.on_commit(lambda: flush_outbox(channel))
    return event


def publish_many(channel: str, datas: Iterable[dict[str, Any]]) -> list[OutboxEvent]:
    """publish() for many events of one channel: one bulk INSERT, one flush after the commit.

    The events go out in the order given, after the current transaction
    commits, exactly as if each had been published on its own.
    """
    _check_outgoing(channel)
    now = timezone.now()
    events = [_outbox_event(channel, data, now) for data in datas]
    if not events:
        return []
    # One statement per FLUSH_BATCH rows; ids (which order the channel) follow the list.
    created = OutboxEvent.objects.bulk_create(events, batch_size=FLUSH_BATCH)
    transaction.on_commit(lambda: flush_outbox(channel))
    return created


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
        sent = _publish_batch(client, batch)
        published += sent
        if sent < len(batch):
            return published


def _publish_batch(client: redis.Redis, batch: list[OutboxEvent]) -> int:
    """PUBLISH the batch in order in one pipeline; mark what went out; return how many.

    If a command fails, the events before it are marked and the rest wait for
    the next flush (Redis may already have delivered some of them: at least
    once). If the connection fails, which ones were sent cannot be told, so
    none is marked and the whole batch is sent again later.
    """
    pipe = client.pipeline(transaction=False)
    for event in batch:
        pipe.publish(event.channel, event.payload)
    try:
        results = pipe.execute(raise_on_error=False)
    except redis.RedisError as exc:
        _record_failure(batch[0], exc)
        return 0
    sent = next(
        (n for n, result in enumerate(results) if isinstance(result, Exception)), len(batch)
    )
    if sent:
        OutboxEvent.objects.filter(
            pk__in=[event.pk for event in batch[:sent]], published_at__isnull=True
        ).update(published_at=timezone.now(), attempts=F("attempts") + 1)
    if sent < len(batch):
        _record_failure(batch[sent], results[sent])
    return sent


def _record_failure(event: OutboxEvent, exc: BaseException) -> None:
    OutboxEvent.objects.filter(pk=event.pk).update(
        attempts=F("attempts") + 1, last_error=str(exc)[:1000]
    )
    logger.warning("outbox %s: publishing %s failed: %s", event.channel, event.event_id, exc)


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
