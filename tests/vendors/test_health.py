"""The vendor-health-check sweep against real HTTP endpoints, real Redis and the database."""

from __future__ import annotations

import json

import pytest
from django_q.models import Task

from notifications.models import AdminNotification, AuditLog
from notifications.roles import OPS_MANAGER
from portal.events import VENDOR_STATUS_CHANGED
from portal.models import OutboxEvent
from portal.orders import get_order
from tests.concurrency import run_at_once
from tests.factories import OrderFactory, UserFactory, VendorFactory, VendorRoutingRuleFactory
from vendors import health as health_module
from vendors.health import vendor_health_sweep
from vendors.models import Vendor, VendorPerformance, VendorStatus
from vendors.services import failures_key
from vendors.tasks import vendor_health_check

pytestmark = pytest.mark.django_db


@pytest.fixture
def health(settings, redis_client):
    settings.HEALTH_CHECK_TIMEOUT_SECONDS = 1
    settings.VENDOR_OFFLINE_FAILURE_THRESHOLD = 3
    settings.VENDOR_RECOVERY_SUCCESS_THRESHOLD = 1
    return redis_client


def failing(httpserver, path="/down"):
    httpserver.expect_request(path).respond_with_data("broken", status=500)
    return httpserver.url_for(path)


def answering(httpserver, path="/up"):
    httpserver.expect_request(path).respond_with_data("ok")
    return httpserver.url_for(path)


def ops_manager():
    return UserFactory(roles=[OPS_MANAGER])


def test_two_failures_then_a_success_clears_the_counter(health, httpserver):
    vendor = VendorFactory(health_check_url=failing(httpserver))
    vendor_health_sweep()
    vendor_health_sweep()
    assert int(health.get(failures_key(vendor.id))) == 2
    assert 0 < health.ttl(failures_key(vendor.id)) <= 900
    httpserver.clear()
    vendor.health_check_url = answering(httpserver)
    vendor.save()
    vendor_health_sweep()
    assert health.get(failures_key(vendor.id)) is None
    vendor.refresh_from_db()
    assert vendor.status == VendorStatus.ACTIVE
    rows = list(VendorPerformance.objects.filter(vendor=vendor).order_by("id"))
    assert [r.ok for r in rows] == [False, False, True]
    assert rows[0].status_code == 500 and "HTTP 500" in rows[0].error
    assert rows[2].response_time_ms is not None


def test_three_failures_take_the_vendor_offline_and_fail_orders_over(
    health, httpserver, subscriber, django_capture_on_commit_callbacks
):
    failed = VendorFactory(health_check_url=failing(httpserver))
    VendorRoutingRuleFactory(vendor=failed, priority=1)
    second = VendorRoutingRuleFactory(priority=5).vendor
    best = VendorRoutingRuleFactory(priority=2, package_type="CRIMINAL").vendor
    VendorRoutingRuleFactory(priority=1, vendor=VendorFactory(status=VendorStatus.MAINTENANCE))
    open_orders = [
        OrderFactory(vendor_id=failed.id, status="pending"),
        OrderFactory(vendor_id=failed.id, status="in_progress"),
    ]
    closed = OrderFactory(vendor_id=failed.id, status="completed")
    channel = subscriber(VENDOR_STATUS_CHANGED)

    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(3):
            vendor_health_sweep()

    failed.refresh_from_db()
    assert failed.status == VendorStatus.OFFLINE
    assert {get_order(o.id).vendor_id for o in open_orders} == {best.id}
    assert get_order(closed.id).vendor_id == failed.id
    assert second.id != best.id
    message = channel.get_message(timeout=2)
    assert message is not None
    event = json.loads(message["data"])
    assert event["type"] == VENDOR_STATUS_CHANGED
    assert event["data"] == {
        "vendorId": failed.id,
        "previousStatus": "active",
        "status": "offline",
        "reason": event["data"]["reason"],
        "failedOverOrders": sorted(o.id for o in open_orders),
    }
    assert "3 consecutive failed health checks" in event["data"]["reason"]
    vendor_audit = AuditLog.objects.get(action="vendor.status_changed", target_id=str(failed.id))
    assert vendor_audit.before == {"status": "active"} and vendor_audit.after == {
        "status": "offline"
    }
    moves = AuditLog.objects.filter(action="order.vendor_failed_over")
    assert {m.target_id for m in moves} == {o.id for o in open_orders}
    assert all(m.after == {"vendorId": best.id} for m in moves)


def test_failover_spreads_by_load_kept_in_memory(health, httpserver):
    failed = VendorFactory(health_check_url=failing(httpserver))
    busy = VendorRoutingRuleFactory(priority=1).vendor
    idle = VendorRoutingRuleFactory(priority=1).vendor
    OrderFactory(vendor_id=busy.id, status="in_progress")
    orders = [OrderFactory(vendor_id=failed.id) for _ in range(5)]
    health.set(failures_key(failed.id), 2)
    vendor_health_sweep()
    placed = [get_order(o.id).vendor_id for o in orders]
    # Counted once at the start, every order would go to `idle`; with the
    # counts kept up to date both end with three open orders.
    assert placed.count(idle.id) == 3 and placed.count(busy.id) == 2


def test_no_eligible_vendor_escalates_and_notifies_ops(
    health, httpserver, django_capture_on_commit_callbacks
):
    manager = ops_manager()
    failed = VendorFactory(health_check_url=failing(httpserver))
    VendorRoutingRuleFactory(vendor=failed)
    order = OrderFactory(vendor_id=failed.id, status="in_progress")
    health.set(failures_key(failed.id), 2)

    with django_capture_on_commit_callbacks(execute=True):
        vendor_health_sweep()

    failed.refresh_from_db()
    assert failed.status == VendorStatus.OFFLINE
    assert get_order(order.id).vendor_id == failed.id
    # Tasks run inline in tests: the task row proves what was enqueued.
    task = Task.objects.get(func="escalation.tasks.auto_escalate")
    offline_since = Vendor.objects.get(id=failed.id).updated_at.isoformat()
    assert task.args == (
        order.id,
        "VENDOR_OFFLINE",
        f"vendor-offline:{failed.id}:{offline_since}",
        {"vendorId": failed.id},
    )
    note = AdminNotification.objects.get(recipient=manager)
    assert failed.name in note.title and order.id in note.body
    assert note.level == "critical" and note.vendor_id == failed.id


def test_offline_vendor_recovers_on_success(
    health, httpserver, subscriber, django_capture_on_commit_callbacks
):
    vendor = VendorFactory(health_check_url=answering(httpserver), status=VendorStatus.OFFLINE)
    health.set(failures_key(vendor.id), 5)
    channel = subscriber(VENDOR_STATUS_CHANGED)
    with django_capture_on_commit_callbacks(execute=True):
        report = vendor_health_sweep()
    assert report.brought_online == [vendor.id]
    vendor.refresh_from_db()
    assert vendor.status == VendorStatus.ACTIVE
    assert health.get(failures_key(vendor.id)) is None
    event = json.loads(channel.get_message(timeout=2)["data"])
    assert event["data"]["previousStatus"] == "offline" and event["data"]["status"] == "active"
    assert AuditLog.objects.filter(
        action="vendor.status_changed", target_id=str(vendor.id), after={"status": "active"}
    ).exists()


def test_recovery_threshold_counts_consecutive_successes(settings, health, httpserver):
    settings.VENDOR_RECOVERY_SUCCESS_THRESHOLD = 2
    vendor = VendorFactory(health_check_url=answering(httpserver), status=VendorStatus.OFFLINE)
    vendor_health_sweep()
    assert Vendor.objects.get(id=vendor.id).status == VendorStatus.OFFLINE
    vendor_health_sweep()
    assert Vendor.objects.get(id=vendor.id).status == VendorStatus.ACTIVE


@pytest.mark.parametrize(
    "status", [VendorStatus.MAINTENANCE, VendorStatus.SUSPENDED, VendorStatus.INACTIVE]
)
def test_vendors_out_of_service_are_neither_probed_nor_changed(health, httpserver, status):
    vendor = VendorFactory(health_check_url=failing(httpserver), status=status)
    health.set(failures_key(vendor.id), 5)
    vendor_health_sweep()
    assert not VendorPerformance.objects.exists()
    assert httpserver.log == []
    assert Vendor.objects.get(id=vendor.id).status == status


def test_one_bad_vendor_does_not_stop_the_sweep(health, httpserver, refused_url):
    bad = VendorFactory(health_check_url="http://[bad")  # unparsable: the probe reports it
    good = VendorFactory(health_check_url=answering(httpserver))
    refused = VendorFactory(health_check_url=refused_url)
    report = vendor_health_sweep()
    outcome = {r.vendor_id: r.ok for r in report.results}
    assert outcome == {bad.id: False, good.id: True, refused.id: False}
    assert VendorPerformance.objects.count() == 3


def test_a_failing_failover_is_logged_and_the_sweep_goes_on(
    health, httpserver, caplog, monkeypatch
):
    broken = VendorFactory(health_check_url=failing(httpserver, "/a"))
    other = VendorFactory(health_check_url=failing(httpserver, "/b"))
    health.set(failures_key(broken.id), 2)
    health.set(failures_key(other.id), 2)
    real = health_module.vendor_take_offline

    # Nothing real fails on demand inside one vendor's failover (its writes
    # are plain inserts and conditional updates), so one call is made to fail.
    def take_offline(*, vendor_id, reason):
        if vendor_id == broken.id:
            raise RuntimeError("boom")
        return real(vendor_id=vendor_id, reason=reason)

    monkeypatch.setattr(health_module, "vendor_take_offline", take_offline)
    report = vendor_health_sweep()
    assert report.errors == [broken.id]
    assert report.taken_offline == [other.id]
    assert f"vendor {broken.id}: status change failed" in caplog.text
    assert Vendor.objects.get(id=broken.id).status == VendorStatus.ACTIVE


def test_sweep_is_split_into_batches(settings, health, httpserver):
    settings.VENDOR_HEALTH_CHECK_BATCH_SIZE = 2
    url = answering(httpserver)
    vendors = [VendorFactory(health_check_url=url) for _ in range(5)]
    assert vendor_health_check() == 5
    batches = Task.objects.filter(func="vendors.tasks.vendor_health_check_batch").order_by(
        "started"
    )
    assert sorted(len(t.args[0]) for t in batches) == [1, 2, 2]
    assert all(t.success for t in batches)
    assert VendorPerformance.objects.count() == 5
    assert {p.vendor_id for p in VendorPerformance.objects.all()} == {v.id for v in vendors}


def test_hanging_vendors_cost_one_timeout_not_one_each(health, raw_server, httpserver):
    from tests.vendors.conftest import elapsed, hang

    server = raw_server(hang)
    hanging = [VendorFactory(health_check_url=server.url(f"/{i}")) for i in range(20)]
    VendorFactory(health_check_url=answering(httpserver))
    report, seconds = elapsed(vendor_health_sweep)
    assert seconds < 2.5  # 20 hanging at a 1 s timeout
    assert sum(not r.ok for r in report.results) == len(hanging)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_take_offline_once_and_move_each_order_once(health, httpserver):
    failed = VendorFactory(health_check_url=failing(httpserver))
    VendorRoutingRuleFactory(priority=1)
    VendorRoutingRuleFactory(priority=1)
    orders = [OrderFactory(vendor_id=failed.id) for _ in range(10)]
    health.set(failures_key(failed.id), 2)
    reports = run_at_once(vendor_health_sweep)

    assert sorted(len(r.taken_offline) for r in reports) == [0, 1]
    assert AuditLog.objects.filter(action="vendor.status_changed").count() == 1
    moves = AuditLog.objects.filter(action="order.vendor_failed_over")
    assert sorted(m.target_id for m in moves) == sorted(o.id for o in orders)
    assert OutboxEvent.objects.filter(channel=VENDOR_STATUS_CHANGED).count() == 1
    assert all(get_order(o.id).vendor_id != failed.id for o in orders)
