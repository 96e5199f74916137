"""order:new: an order without a vendor gets one, once."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from notifications.models import AdminNotification, AuditLog
from portal import orders as portal_orders
from portal.events import ORDER_NEW, InboundEvent
from tests.concurrency import run_at_once
from tests.factories import OrderFactory, UserFactory, VendorFactory, VendorRoutingRuleFactory
from vendors.assignment import order_assign_vendor
from vendors.handlers import assign_vendor_on_new_order
from vendors.models import VendorStatus

pytestmark = pytest.mark.django_db


def new_order_event(order_id: str) -> InboundEvent:
    return InboundEvent(id="e-1", channel=ORDER_NEW, data={"orderId": order_id})


def test_the_best_vendor_by_routing_rule_is_assigned_and_audited():
    VendorRoutingRuleFactory(package_type="CRIMINAL", priority=2)
    best = VendorRoutingRuleFactory(package_type="CRIMINAL", priority=1)
    VendorRoutingRuleFactory(package_type="CRIMINAL", priority=0,
                             vendor=VendorFactory(status=VendorStatus.MAINTENANCE))  # fmt: skip
    order = OrderFactory(package_type="CRIMINAL")
    assign_vendor_on_new_order(new_order_event(order.id))
    assert portal_orders.get_order(order.id).vendor_id == best.vendor_id
    entry = AuditLog.objects.get(action="order.vendor_assigned")
    assert (entry.target_type, entry.target_id) == ("order", order.id)
    assert entry.before == {"vendorId": None}
    assert entry.after == {"vendorId": best.vendor_id}
    assert entry.actor_label == "order:new"


def test_handling_the_event_twice_changes_nothing():
    VendorRoutingRuleFactory(package_type="CRIMINAL")
    order = OrderFactory(package_type="CRIMINAL")
    assign_vendor_on_new_order(new_order_event(order.id))
    assert order_assign_vendor(order_id=order.id).outcome == "already_assigned"
    assert AuditLog.objects.count() == 1


def test_an_order_with_a_vendor_keeps_it():
    VendorRoutingRuleFactory(package_type="CRIMINAL")
    mine = VendorFactory()
    order = OrderFactory(package_type="CRIMINAL", vendor_id=mine.id)
    assert order_assign_vendor(order_id=order.id).outcome == "already_assigned"
    assert portal_orders.get_order(order.id).vendor_id == mine.id
    assert not AuditLog.objects.exists()


def test_closed_and_unknown_orders_get_no_vendor():
    VendorRoutingRuleFactory(package_type="CRIMINAL")
    closed = OrderFactory(package_type="CRIMINAL", status="cancelled")
    assert order_assign_vendor(order_id=closed.id).outcome == "closed"
    assert order_assign_vendor(order_id="no-such-order").outcome == "not_found"
    assert portal_orders.get_order(closed.id).vendor_id is None


def test_no_eligible_vendor_notifies_the_ops_managers_once_per_order():
    managers = Group.objects.get_or_create(name="opsmanager")[0]
    manager = UserFactory()
    manager.groups.add(managers)
    UserFactory()  # not an ops manager
    VendorRoutingRuleFactory(package_type="EDUCATION")
    order = OrderFactory(package_type="CRIMINAL")
    assert order_assign_vendor(order_id=order.id).outcome == "no_vendor"
    assert order_assign_vendor(order_id=order.id).outcome == "no_vendor"
    notification = AdminNotification.objects.get()
    assert notification.recipient == manager
    assert notification.order_id == order.id
    assert notification.level == "warning"
    assert order.id in notification.title


def test_the_assignment_does_not_touch_the_portals_updated_at():
    VendorRoutingRuleFactory(package_type="CRIMINAL")
    order = OrderFactory(package_type="CRIMINAL")
    order_assign_vendor(order_id=order.id)
    assert portal_orders.get_order(order.id).updated_at == order.updated_at


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_handlers_for_the_same_order_at_once_assign_once():
    for _ in range(3):
        VendorRoutingRuleFactory(package_type="CRIMINAL")
    orders = [OrderFactory(package_type="CRIMINAL") for _ in range(10)]
    outcomes: list[str] = []
    for order in orders:
        outcomes += run_at_once(lambda order=order: order_assign_vendor(order_id=order.id).outcome)
    assert outcomes.count("assigned") == len(orders)
    assert set(outcomes) <= {"assigned", "lost_race", "already_assigned"}
    for order in orders:
        assert portal_orders.get_order(order.id).vendor_id is not None
        assert AuditLog.objects.filter(target_id=order.id).count() == 1
