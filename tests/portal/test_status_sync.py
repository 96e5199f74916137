"""order-status-sync: orders the back office missed are run through the event handlers."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone
from django_q.tasks import async_task

from notifications.models import AdminNotification, AuditLog
from notifications.roles import OPS_MANAGER
from portal import orders as portal_orders
from portal.events import InboundEvent
from portal.inbound import load_handlers
from portal.models import OrderSeen, RejectedEvent, RejectReason, SyncWatermark
from portal.status_sync import WATERMARK, order_status_sync_run
from portal.tasks import order_status_sync
from tests.concurrency import run_at_once
from tests.factories import OrderFactory, UserFactory, VendorRoutingRuleFactory

pytestmark = pytest.mark.django_db

SYNC = "portal.tasks.order_status_sync"


def failing_for_bad_orders(event: InboundEvent) -> None:
    if event.order_id.startswith("bad-"):
        raise ValueError(f"cannot handle {event.order_id}")


def snapshot() -> tuple:
    return (
        list(AuditLog.objects.values_list("id", flat=True)),
        list(OrderSeen.objects.values_list("order_id", "status", "seen_at", "event_id")),
        list(AdminNotification.objects.values_list("id", flat=True)),
        list(RejectedEvent.objects.values_list("id", flat=True)),
    )


def test_order_inserted_without_an_event_is_handled_and_twice_changes_nothing():
    rule = VendorRoutingRuleFactory(package_type="CRIMINAL")
    order = OrderFactory(package_type="CRIMINAL")  # no event: as if pub/sub lost it
    async_task(SYNC)  # through django-q2 (inline in tests), as the schedule runs it
    assert portal_orders.get_order(order.id).vendor_id == rule.vendor_id
    assert AuditLog.objects.filter(action="order.vendor_assigned", target_id=order.id).count() == 1
    seen = OrderSeen.objects.get(order_id=order.id)
    assert seen.status == "pending"
    assert seen.event_id.startswith("order-status-sync:")
    before = snapshot()
    assert order_status_sync()["new_orders"] == 0
    assert snapshot() == before


def test_a_missed_status_change_runs_the_status_handlers():
    start = timezone.now()
    order = OrderFactory(status="in_progress")
    OrderSeen.objects.create(order_id=order.id, status="in_progress", seen_at=start)
    assert order_status_sync() == {
        "scanned": 1, "new_orders": 0, "status_changes": 0, "handler_failures": 0,
    }  # fmt: skip
    with time_machine.travel(start + timedelta(minutes=10), tick=False):
        portal_orders.set_order_status(order_id=order.id, status="completed")
        result = order_status_sync()
    assert result["status_changes"] == 1
    assert OrderSeen.objects.get(order_id=order.id).status == "completed"
    with time_machine.travel(start + timedelta(minutes=11), tick=False):
        assert order_status_sync()["status_changes"] == 0


def test_the_status_event_carries_the_previous_status():
    seen_events: list[InboundEvent] = []
    order = OrderFactory(status="exception")
    OrderSeen.objects.create(order_id=order.id, status="in_progress", seen_at=timezone.now())
    handlers = {"order:status:changed": [("collect", seen_events.append)]}
    order_status_sync_run(handlers=handlers)
    [event] = seen_events
    assert event.data == {
        "orderId": order.id, "status": "exception", "previousStatus": "in_progress",
    }  # fmt: skip
    assert event.occurred_at == order.updated_at


def test_the_watermark_moves_forward_and_the_overlap_catches_late_commits(settings):
    settings.ORDER_STATUS_SYNC_OVERLAP_SECONDS = 300
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        OrderFactory(order_id="first")
        order_status_sync()
    assert SyncWatermark.objects.get(name=WATERMARK).value == start
    # A portal transaction that committed late: updated_at before the watermark.
    OrderFactory(order_id="late", created_at=start - timedelta(seconds=120))
    OrderFactory(order_id="too-late", created_at=start - timedelta(seconds=900))
    with time_machine.travel(start + timedelta(minutes=1), tick=False):
        result = order_status_sync()
    assert result["new_orders"] == 1
    assert set(OrderSeen.objects.values_list("order_id", flat=True)) == {"first", "late"}


def test_first_run_looks_back_only_so_far(settings):
    settings.ORDER_STATUS_SYNC_INITIAL_LOOKBACK_HOURS = 24
    OrderFactory(order_id="ancient", created_at=timezone.now() - timedelta(days=3))
    OrderFactory(order_id="today")
    order_status_sync()
    assert list(OrderSeen.objects.values_list("order_id", flat=True)) == ["today"]


def test_pages_through_many_orders():
    for n in range(7):
        OrderFactory(order_id=f"o-{n}")
    result = order_status_sync_run(handlers=load_handlers(), batch_size=3)
    assert result.scanned == 7
    assert OrderSeen.objects.count() == 7


def test_one_bad_order_is_stored_and_the_run_goes_on(settings):
    settings.EVENT_HANDLERS = {
        "order:new": ["tests.portal.test_status_sync.failing_for_bad_orders"],
        "order:status:changed": ["portal.handlers.record_order_status"],
    }
    OrderFactory(order_id="good-1")
    OrderFactory(order_id="bad-1")
    OrderFactory(order_id="good-2")
    result = order_status_sync()
    assert result["handler_failures"] == 1
    rejected = RejectedEvent.objects.get()
    assert rejected.order_id == "bad-1"
    assert rejected.reason == RejectReason.HANDLER_FAILED
    assert rejected.handler == "tests.portal.test_status_sync.failing_for_bad_orders"
    assert '"orderId": "bad-1"' in rejected.raw
    assert OrderSeen.objects.count() == 3  # every order reached its status handlers
    before = snapshot()
    order_status_sync()
    assert snapshot() == before  # the failure is kept for review, not repeated every minute


def test_an_order_no_vendor_can_take_notifies_the_ops_managers_once():
    manager = UserFactory(roles=[OPS_MANAGER])
    order = OrderFactory(package_type="DRUG_TEST")  # no routing rule for it
    order_status_sync()
    notification = AdminNotification.objects.get()
    assert notification.recipient == manager
    assert notification.order_id == order.id
    OrderSeen.objects.all().delete()  # as if seen again from scratch
    order_status_sync()
    assert AdminNotification.objects.count() == 1
    assert portal_orders.get_order(order.id).vendor_id is None


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_syncs_at_once_assign_each_order_once():
    for _ in range(2):
        VendorRoutingRuleFactory(package_type="CRIMINAL")
    orders = [OrderFactory(package_type="CRIMINAL") for _ in range(20)]
    run_at_once(order_status_sync)
    assert not RejectedEvent.objects.exists()
    for order in orders:
        assert portal_orders.get_order(order.id).vendor_id is not None
        assert AuditLog.objects.filter(target_id=order.id).count() == 1
    assert OrderSeen.objects.filter(order_id__in=[o.id for o in orders]).count() == len(orders)
