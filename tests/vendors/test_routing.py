from __future__ import annotations

import pytest

from tests.factories import OrderFactory, VendorFactory, VendorRoutingRuleFactory
from vendors.models import VendorStatus
from vendors.routing import pick_vendor_id, ranked_vendor_ids

pytestmark = pytest.mark.django_db


def test_lowest_priority_number_wins():
    second = VendorRoutingRuleFactory(package_type="CRIMINAL", priority=2).vendor
    first = VendorRoutingRuleFactory(package_type="CRIMINAL", priority=1).vendor
    order = OrderFactory(package_type="CRIMINAL")
    assert ranked_vendor_ids(package_type="CRIMINAL", client_id=order.client_id) == [
        first.id,
        second.id,
    ]


def test_ties_go_to_the_vendor_with_fewest_open_orders():
    busy = VendorRoutingRuleFactory(priority=1).vendor
    idle = VendorRoutingRuleFactory(priority=1).vendor
    OrderFactory(vendor_id=busy.id, status="in_progress")
    OrderFactory(vendor_id=idle.id, status="completed")  # closed orders don't count
    assert pick_vendor_id(OrderFactory()) == idle.id


def test_rules_must_match_package_type_and_client_or_be_any():
    order = OrderFactory(package_type="DRUG")
    VendorRoutingRuleFactory(package_type="CRIMINAL")
    VendorRoutingRuleFactory(client_id="someone-else")
    any_vendor = VendorRoutingRuleFactory(priority=5).vendor
    exact = VendorRoutingRuleFactory(package_type="DRUG", client_id=order.client_id, priority=3)
    assert ranked_vendor_ids(package_type="DRUG", client_id=order.client_id) == [
        exact.vendor_id,
        any_vendor.id,
    ]


@pytest.mark.parametrize("status", [s for s in VendorStatus if s != VendorStatus.ACTIVE])
def test_only_active_vendors_with_active_rules(status):
    VendorRoutingRuleFactory(vendor=VendorFactory(status=status))
    VendorRoutingRuleFactory(is_active=False)
    assert pick_vendor_id(OrderFactory()) is None


def test_excluded_vendor_is_never_picked():
    failed = VendorRoutingRuleFactory(priority=1).vendor
    other = VendorRoutingRuleFactory(priority=9).vendor
    assert pick_vendor_id(OrderFactory(), exclude=[failed.id]) == other.id
