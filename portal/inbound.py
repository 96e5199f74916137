"""Inbound events from the portal: validate a message, run its handlers, keep what failed.

Used by the listener (messages from Redis) and by order-status-sync (events
built from the database). `handle_message` is the one wrapper around each
message (as zulip's queue workers do): whatever goes wrong with one message
is logged with its context and stored as a RejectedEvent, and the caller
carries on with the next.

A message is accepted in two forms, because the portal is another team's
application:
- the envelope we publish ourselves: {"id", "type", "occurredAt", "data": {"orderId", ...}};
- a flat object with "orderId" at the top: {"orderId", "status", ...}.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.module_loading import import_string

from portal.events import INBOUND_CHANNELS, ORDER_STATUS_CHANGED, InboundEvent
from portal.models import RejectedEvent, RejectReason

logger = logging.getLogger(__name__)

Handler = Callable[[InboundEvent], object]
# channel -> [(dotted path, function)], in the order of settings.EVENT_HANDLERS
HandlerTable = dict[str, list[tuple[str, Handler]]]

RAW_KEEP_CHARS = 4000  # of a rejected message: enough to recognise it, not a whole flood
MAX_ORDER_ID_LENGTH = 64  # orders.id is varchar(64)
MAX_STATUS_LENGTH = 32
MAX_EVENT_ID_LENGTH = 200
SLOW_MESSAGE_SECONDS = 5.0


class MalformedEvent(Exception):
    """A message that cannot be handed to handlers; `reason` is a RejectReason."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def load_handlers(table: dict[str, list[str]] | None = None) -> HandlerTable:
    """Import every handler in settings.EVENT_HANDLERS once; a bad entry fails clearly.

    Raises ImproperlyConfigured naming the channel and the dotted path, so a
    typo stops the listener at start instead of dropping events later.
    """
    table = settings.EVENT_HANDLERS if table is None else table
    loaded: HandlerTable = {}
    for channel, paths in table.items():
        if channel not in INBOUND_CHANNELS:
            raise ImproperlyConfigured(
                f"EVENT_HANDLERS: {channel!r} is not an inbound channel "
                f"(inbound channels: {', '.join(INBOUND_CHANNELS)})"
            )
        loaded[channel] = []
        for path in paths:
            try:
                func = import_string(path)
            except ImportError as exc:
                raise ImproperlyConfigured(
                    f"EVENT_HANDLERS[{channel!r}]: cannot import {path!r}: {exc}"
                ) from exc
            if not callable(func):
                raise ImproperlyConfigured(f"EVENT_HANDLERS[{channel!r}]: {path!r} is not callable")
            loaded[channel].append((path, func))
    return loaded


# --- decoding and validation ------------------------------------------------


def parse_message(channel: str, raw: bytes, *, channels: Iterable[str]) -> InboundEvent:
    """The InboundEvent in `raw`, or MalformedEvent saying what is wrong with it."""
    if channel not in channels:
        raise MalformedEvent(RejectReason.UNKNOWN_CHANNEL, f"no handlers for channel {channel!r}")
    limit = settings.EVENT_MAX_MESSAGE_BYTES
    if len(raw) > limit:
        raise MalformedEvent(
            RejectReason.TOO_LARGE,
            f"{len(raw)} bytes; the limit is {limit} (EVENT_MAX_MESSAGE_BYTES)",
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedEvent(RejectReason.NOT_UTF8, str(exc)) from exc
    try:
        body = json.loads(text)
    except (ValueError, RecursionError) as exc:  # RecursionError: "[[[[..." nested too deep
        raise MalformedEvent(RejectReason.NOT_JSON, str(exc)[:500]) from exc
    if not isinstance(body, dict):
        raise MalformedEvent(RejectReason.NOT_OBJECT, f"a JSON {type(body).__name__}")
    data, event_id = _data_and_id(body)
    _check_data(channel, data)
    return InboundEvent(
        id=event_id or "sha256:" + hashlib.sha256(raw).hexdigest()[:32],
        channel=channel,
        data=data,
        occurred_at=_occurred_at(body.get("occurredAt", data.get("occurredAt"))),
    )


def _data_and_id(body: dict) -> tuple[dict, str | None]:
    """Flat (orderId at the top) or envelope (orderId in "data")."""
    if "orderId" in body or "data" not in body:
        return body, None
    data = body["data"]
    if not isinstance(data, dict):
        raise MalformedEvent(
            RejectReason.BAD_DATA, f'"data" is a {type(data).__name__}, not an object'
        )
    event_id = body.get("id")
    if isinstance(event_id, bool) or not isinstance(event_id, str | int):
        return data, None
    return data, str(event_id)[:MAX_EVENT_ID_LENGTH] or None


def _check_data(channel: str, data: dict) -> None:
    if "orderId" not in data:
        raise MalformedEvent(RejectReason.MISSING_ORDER_ID, "no orderId at the top or in data")
    order_id = data["orderId"]
    if not _is_short_text(order_id, MAX_ORDER_ID_LENGTH):
        raise MalformedEvent(
            RejectReason.BAD_ORDER_ID,
            f"orderId must be a non-empty printable string of at most {MAX_ORDER_ID_LENGTH} "
            f"characters, got {_preview(order_id)}",
        )
    if channel == ORDER_STATUS_CHANGED and not _is_short_text(
        data.get("status"), MAX_STATUS_LENGTH
    ):
        raise MalformedEvent(
            RejectReason.BAD_STATUS,
            f"status must be a non-empty string, got {_preview(data.get('status'))}",
        )


def _is_short_text(value: object, max_length: int) -> bool:
    return (
        isinstance(value, str)
        and 0 < len(value) <= max_length
        and value.strip() == value
        and value.isprintable()
    )


def _preview(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _occurred_at(value: object) -> datetime | None:
    """occurredAt as an aware datetime; None when absent or unreadable (it is informative only)."""
    if not isinstance(value, str):
        return None
    try:
        parsed = parse_datetime(value)
    except ValueError:
        return None
    if parsed is None:
        return None
    return parsed if timezone.is_aware(parsed) else parsed.replace(tzinfo=UTC)


# --- the per-message wrapper ------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    handled: bool  # valid, and handed to its handlers
    failures: int  # handlers that raised (or 1 for a malformed message)


def handle_message(channel: str, raw: bytes, handlers: HandlerTable) -> Outcome:
    """Validate one message from Redis and run its handlers; never raises for a bad message."""
    started = time.monotonic()
    try:
        event = parse_message(channel, raw, channels=handlers.keys())
    except MalformedEvent as exc:
        logger.warning(
            "rejected a message on %s (%s): %s; raw: %s",
            channel, exc.reason, exc.detail, printable_raw(raw, limit=300),
        )  # fmt: skip
        store_rejection(channel=channel, raw=raw, reason=exc.reason, detail=exc.detail)
        return Outcome(handled=False, failures=1)
    failures = run_handlers(event, handlers, raw=raw)
    elapsed = time.monotonic() - started
    if elapsed > SLOW_MESSAGE_SECONDS:
        logger.warning("%s event %s for order %s took %.1f s to handle",
                       channel, event.id, event.order_id, elapsed)  # fmt: skip
    return Outcome(handled=True, failures=failures)


def run_handlers(event: InboundEvent, handlers: HandlerTable, *, raw: bytes) -> int:
    """Run every handler of the event's channel; return how many raised.

    Each handler runs in its own transaction, so one that fails leaves no
    half-done change and does not keep the others from running (they are
    independent reactions: assigning a vendor, resolving alerts, ...).
    """
    failures = 0
    for path, func in handlers.get(event.channel, []):
        try:
            with transaction.atomic():
                func(event)
        except Exception as exc:
            failures += 1
            logger.exception(
                "handler %s failed on %s event %s for order %s; raw: %s",
                path, event.channel, event.id, event.order_id, printable_raw(raw, limit=300),
            )  # fmt: skip
            store_rejection(
                channel=event.channel,
                raw=raw,
                reason=RejectReason.HANDLER_FAILED,
                detail=f"{type(exc).__name__}: {exc}\n\n{traceback.format_exc()}",
                order_id=event.order_id,
                handler=path,
            )
    return failures


def store_rejection(
    *, channel: str, raw: bytes, reason: str, detail: str, order_id: str = "", handler: str = ""
) -> RejectedEvent | None:
    """Keep a rejected message for review; if even that fails, the log line is what is left."""
    try:
        return RejectedEvent.objects.create(
            channel=channel[:200],
            reason=reason,
            detail=_without_nul(detail)[:20000],
            raw=printable_raw(raw, limit=RAW_KEEP_CHARS),
            raw_size=len(raw),
            order_id=order_id[:64],
            handler=handler[:200],
            received_at=timezone.now(),
        )
    except Exception:
        logger.exception("could not store a rejected %s message (%s); raw: %s",
                         channel, reason, printable_raw(raw, limit=300))  # fmt: skip
        return None


def printable_raw(raw: bytes, *, limit: int) -> str:
    """The message as text for a person: bad bytes and NULs (PostgreSQL refuses them) escaped."""
    text = _without_nul(raw[: limit * 4].decode("utf-8", "backslashreplace"))
    if len(text) > limit or len(raw) > limit * 4:
        return f"{text[:limit]}... [truncated; {len(raw)} bytes in all]"
    return text


def _without_nul(text: str) -> str:
    return text.replace("\x00", "\\x00")
