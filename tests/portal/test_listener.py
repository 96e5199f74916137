"""listen_events: a real subscriber on a real Redis, run in a thread or as a process."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command

from notifications.models import AuditLog
from portal import orders as portal_orders
from portal.events import ORDER_NEW, ORDER_STATUS_CHANGED, InboundEvent
from portal.inbound import handle_message, load_handlers
from portal.listener import backoff_seconds
from portal.models import OrderSeen, RejectedEvent, RejectReason
from tests.concurrency import wait_until
from tests.factories import OrderFactory, VendorRoutingRuleFactory
from tests.portal.conftest import envelope
from tests.servers import subscribers

pytestmark = pytest.mark.django_db(transaction=True)

EXPLODING = "tests.portal.test_listener.exploding_handler"


def exploding_handler(event: InboundEvent) -> None:
    raise RuntimeError(f"boom for {event.order_id}")


def vendor_of(order_id: str) -> int | None:
    return portal_orders.get_order(order_id).vendor_id


def test_valid_order_new_assigns_a_vendor(redis_client, start_listener):
    rule = VendorRoutingRuleFactory(package_type="CRIMINAL")
    order = OrderFactory(package_type="CRIMINAL")
    runner = start_listener()
    redis_client.publish(ORDER_NEW, envelope(ORDER_NEW, {"orderId": order.id}))
    runner.wait_for_messages(1)
    assert vendor_of(order.id) == rule.vendor_id
    assert AuditLog.objects.filter(action="order.vendor_assigned", target_id=order.id).count() == 1
    assert not RejectedEvent.objects.exists()


def test_flat_status_message_is_accepted_and_recorded(redis_client, start_listener):
    order = OrderFactory(status="in_progress")
    runner = start_listener()
    flat = {"orderId": order.id, "status": "in_progress", "previousStatus": "pending"}
    redis_client.publish(ORDER_STATUS_CHANGED, json.dumps(flat))
    runner.wait_for_messages(1)
    assert OrderSeen.objects.get(order_id=order.id).status == "in_progress"


def _malformed_messages(count: int) -> list[tuple[str, bytes, str]]:
    """(channel, raw, expected reason) for `count` bad messages of every kind."""
    rng = random.Random(4)
    huge = json.dumps({"orderId": "o-1", "blob": "x" * 100_000}).encode()
    fixed = [
        (ORDER_NEW, b"not json at all", RejectReason.NOT_JSON),
        (ORDER_NEW, b"\xff\xfe\x00garbage", RejectReason.NOT_UTF8),
        (ORDER_NEW, b"[1, 2, 3]", RejectReason.NOT_OBJECT),
        (ORDER_NEW, b'"order-1"', RejectReason.NOT_OBJECT),
        (ORDER_NEW, b"null", RejectReason.NOT_OBJECT),
        (ORDER_NEW, b"{}", RejectReason.MISSING_ORDER_ID),
        (ORDER_NEW, b'{"data": {"clientId": "c"}}', RejectReason.MISSING_ORDER_ID),
        (ORDER_NEW, b'{"data": [1]}', RejectReason.BAD_DATA),
        (ORDER_NEW, b'{"orderId": 42}', RejectReason.BAD_ORDER_ID),
        (ORDER_NEW, b'{"orderId": null}', RejectReason.BAD_ORDER_ID),
        (ORDER_NEW, b'{"orderId": ""}', RejectReason.BAD_ORDER_ID),
        (ORDER_NEW, b'{"orderId": ["o-1"]}', RejectReason.BAD_ORDER_ID),
        (ORDER_NEW, b'{"data": {"orderId": {"id": 1}}}', RejectReason.BAD_ORDER_ID),
        (ORDER_NEW, json.dumps({"orderId": "x" * 65}).encode(), RejectReason.BAD_ORDER_ID),
        (ORDER_NEW, b'{"orderId": "o\\u0000"}', RejectReason.BAD_ORDER_ID),
        (ORDER_STATUS_CHANGED, b'{"orderId": "o-1"}', RejectReason.BAD_STATUS),
        (ORDER_STATUS_CHANGED, b'{"orderId": "o-1", "status": 3}', RejectReason.BAD_STATUS),
        (ORDER_NEW, b"[" * 5000, RejectReason.NOT_JSON),  # nested deeper than json can parse
        (ORDER_NEW, huge, RejectReason.TOO_LARGE),
        (ORDER_NEW, b"\x00" * 200_000, RejectReason.TOO_LARGE),
    ]
    messages = list(fixed)
    while len(messages) < count:
        raw = rng.randbytes(rng.randint(1, 300))
        messages.append((rng.choice([ORDER_NEW, ORDER_STATUS_CHANGED]), raw, ""))
    return messages


def test_two_hundred_malformed_messages_are_stored_and_the_listener_goes_on(
    redis_client, start_listener
):
    VendorRoutingRuleFactory(package_type="CRIMINAL")
    runner = start_listener()
    messages = _malformed_messages(200)
    for channel, raw, _ in messages:
        redis_client.publish(channel, raw)
    runner.wait_for_messages(200, timeout=15)
    assert RejectedEvent.objects.count() == 200
    assert runner.thread.is_alive()
    rows = list(RejectedEvent.objects.order_by("id"))
    for (channel, raw, reason), row in zip(messages, rows, strict=True):
        assert row.channel == channel
        assert row.raw_size == len(raw)
        assert len(row.raw) < 4100  # truncated, however large the message
        assert "\x00" not in row.raw
        if reason:
            assert row.reason == reason, row.raw
    # Still listening: the next valid message is handled.
    order = OrderFactory(package_type="CRIMINAL")
    redis_client.publish(ORDER_NEW, envelope(ORDER_NEW, {"orderId": order.id}))
    runner.wait_for_messages(201)
    assert vendor_of(order.id) is not None


def test_a_handler_that_raises_is_stored_and_the_others_still_run(redis_client, start_listener):
    VendorRoutingRuleFactory(package_type="CRIMINAL")
    handlers = load_handlers(
        {ORDER_NEW: [EXPLODING, "vendors.handlers.assign_vendor_on_new_order"]}
    )
    runner = start_listener(handlers)
    order = OrderFactory(package_type="CRIMINAL")
    raw = envelope(ORDER_NEW, {"orderId": order.id})
    redis_client.publish(ORDER_NEW, raw)
    runner.wait_for_messages(1)
    assert vendor_of(order.id) is not None  # the second handler ran
    rejected = RejectedEvent.objects.get()
    assert rejected.reason == RejectReason.HANDLER_FAILED
    assert rejected.handler == EXPLODING
    assert rejected.order_id == order.id
    assert rejected.raw == raw
    assert f"RuntimeError: boom for {order.id}" in rejected.detail
    assert "Traceback" in rejected.detail
    assert runner.thread.is_alive()


def test_a_failed_handler_leaves_no_half_done_change():
    def half_then_fail(event: InboundEvent) -> None:
        OrderSeen.objects.create(order_id=event.order_id, status="x", seen_at="2025-01-01T00:00Z")
        raise RuntimeError("after a write")

    handlers = {ORDER_NEW: [("test.half_then_fail", half_then_fail)]}
    outcome = handle_message(ORDER_NEW, b'{"orderId": "o-1"}', handlers)
    assert outcome.failures == 1
    assert not OrderSeen.objects.exists()  # rolled back with the handler's transaction
    assert RejectedEvent.objects.get().handler == "test.half_then_fail"


def test_a_message_on_an_unknown_channel_is_rejected():
    outcome = handle_message("order:deleted", b'{"orderId": "o-1"}', load_handlers())
    assert not outcome.handled
    assert RejectedEvent.objects.get().reason == RejectReason.UNKNOWN_CHANNEL


def test_both_message_forms_give_the_same_event():
    from portal.inbound import parse_message

    channels = [ORDER_STATUS_CHANGED]
    wrapped = parse_message(
        ORDER_STATUS_CHANGED,
        envelope(
            ORDER_STATUS_CHANGED, {"orderId": "o-1", "status": "completed"}, event_id="e-1"
        ).encode(),
        channels=channels,
    )
    flat = parse_message(
        ORDER_STATUS_CHANGED,
        b'{"orderId": "o-1", "status": "completed", "occurredAt": "2025-01-02T03:04:05Z"}',
        channels=channels,
    )
    assert wrapped.id == "e-1"
    assert flat.id.startswith("sha256:")
    assert wrapped.order_id == flat.order_id == "o-1"
    assert wrapped.data["status"] == flat.data["status"] == "completed"
    assert wrapped.occurred_at == flat.occurred_at
    assert wrapped.occurred_at.tzinfo is not None


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({ORDER_NEW: ["vendors.handlers.no_such_handler"]}, "vendors.handlers.no_such_handler"),
        ({ORDER_NEW: ["nowhere.at_all"]}, "nowhere.at_all"),
        ({"order:newz": []}, "'order:newz' is not an inbound channel"),
    ],
)
def test_a_bad_handler_table_stops_the_start_clearly(settings, table, message):
    settings.EVENT_HANDLERS = table
    with pytest.raises(ImproperlyConfigured, match=message):
        load_handlers()
    with pytest.raises(CommandError, match="cannot start the listener"):
        call_command("listen_events")


def test_reconnect_backoff_doubles_up_to_the_cap():
    assert [backoff_seconds(n, cap=5) for n in range(1, 7)] == [0.5, 1, 2, 4, 5, 5]


def test_redis_restarted_while_listening_resubscribes_and_handles_the_next_message(
    redis_server, start_listener
):
    VendorRoutingRuleFactory(package_type="CRIMINAL")
    check = redis_server.client()
    runner = start_listener(redis_for_check=check, max_backoff_seconds=0.5)
    assert runner.listener.connections == 1
    redis_server.stop()
    wait_until(lambda: runner.listener.failures >= 1, what="the listener to notice")
    redis_server.start()  # same port, empty server: no subscriptions until we come back
    wait_until(lambda: subscribers(check, ORDER_NEW) == 1, what="the resubscription")
    assert runner.listener.connections == 2
    order = OrderFactory(package_type="CRIMINAL")
    check.publish(ORDER_NEW, envelope(ORDER_NEW, {"orderId": order.id}))
    runner.wait_for_messages(1)
    assert vendor_of(order.id) is not None
    assert runner.thread.is_alive()


def test_killed_pubsub_connection_is_reestablished(redis_client, start_listener):
    runner = start_listener(max_backoff_seconds=0.5)
    assert redis_client.client_kill_filter(_type="pubsub") >= 1
    wait_until(lambda: runner.listener.connections == 2, what="the reconnection")
    wait_until(lambda: subscribers(redis_client, ORDER_STATUS_CHANGED) == 1, what="resubscribe")
    order = OrderFactory(status="completed")
    redis_client.publish(
        ORDER_STATUS_CHANGED,
        envelope(ORDER_STATUS_CHANGED, {"orderId": order.id, "status": "completed"}),
    )
    runner.wait_for_messages(1)
    assert OrderSeen.objects.filter(order_id=order.id).exists()


# --- as a process ------------------------------------------------------------


def _start_process(redis_client) -> tuple[subprocess.Popen, list[str]]:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings_test", "PYTHONUNBUFFERED": "1"}
    manage = Path(django_settings.BASE_DIR) / "manage.py"
    process = subprocess.Popen(
        [sys.executable, str(manage), "listen_events"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(process.stdout), daemon=True).start()
    wait_until(lambda: any("listening on" in line for line in lines), timeout=20,
               what="the listener process to start")  # fmt: skip
    return process, lines


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_the_process_within_two_seconds(redis_client, signum):
    process, lines = _start_process(redis_client)
    try:
        wait_until(lambda: subscribers(redis_client, ORDER_NEW) >= 1, what="subscription")
        sent = time.monotonic()
        process.send_signal(signum)
        process.wait(timeout=2)
        took = time.monotonic() - sent
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, "".join(lines)
    assert took < 2
    wait_until(lambda: any("listen_events stopped" in line for line in lines), timeout=2)
