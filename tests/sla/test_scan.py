"""The scan: thresholds, exactly-once, targets by precedence, what it announces, its query count."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from notifications.models import AdminNotification
from portal.models import OutboxEvent
from sla.models import SLAAlert
from sla.scan import due_alerts
from sla.services import ESCALATION_TASK, sla_scan_run
from tests.factories import ClientFactory, OrderFactory, SLAConfigFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def default_config(db):
    return SLAConfigFactory(target_minutes=60, warning_percent=80)


def alerts() -> set[tuple[str, str]]:
    return set(SLAAlert.objects.values_list("order_id", "type"))


def test_79_percent_creates_nothing(now, default_config, order_at, ops_manager):
    order_at(79)
    result = sla_scan_run(now=now)
    assert alerts() == set()
    assert AdminNotification.objects.count() == 0
    assert (result.scanned, result.warnings, result.breaches) == (1, 0, 0)


def test_80_percent_warns_once_and_notifies_once(now, default_config, order_at, ops_manager):
    order = order_at(80)
    first = sla_scan_run(now=now)
    second = sla_scan_run(now=now + timedelta(minutes=5))

    alert = SLAAlert.objects.get()
    assert (alert.order_id, alert.type, alert.target_minutes) == (order.id, "warning", 60)
    assert alert.client_id == order.client_id and alert.package_id == order.package_id
    assert alert.order_created_at == order.created_at and alert.resolved_at is None
    notification = AdminNotification.objects.get()
    assert notification.recipient == ops_manager
    assert notification.order_id == order.id
    assert notification.dedupe_key == f"sla:warning:{order.id}"
    assert "80 %" in notification.title
    assert (first.warnings, first.breaches) == (1, 0)
    assert (second.warnings, second.breaches) == (0, 0)
    assert not OutboxEvent.objects.exists()


def test_warning_goes_to_the_assigned_processor(now, default_config, order_at, ops_manager):
    processor = UserFactory(username="proc")
    order_at(90, assigned_to_id=processor.pk)
    sla_scan_run(now=now)
    assert list(AdminNotification.objects.values_list("recipient__username", flat=True)) == ["proc"]


def test_inactive_assignee_falls_back_to_ops_managers(now, default_config, order_at, ops_manager):
    gone = UserFactory(username="gone", is_active=False)
    order_at(90, assigned_to_id=gone.pk)
    sla_scan_run(now=now)
    assert AdminNotification.objects.get().recipient == ops_manager


def test_100_percent_breaches_once(now, default_config, order_at):
    order = order_at(80)
    sla_scan_run(now=now)  # the warning
    later = now + timedelta(minutes=12)  # 100 %
    result = sla_scan_run(now=later)
    again = sla_scan_run(now=later + timedelta(minutes=5))

    assert alerts() == {(order.id, "warning"), (order.id, "breached")}
    assert (result.warnings, result.breaches) == (0, 1)
    assert (again.warnings, again.breaches) == (0, 0)
    event = OutboxEvent.objects.get()
    assert event.channel == "sla:breached"


def test_past_100_percent_at_first_sight_gets_both_alerts(now, default_config, order_at):
    order = order_at(250)
    result = sla_scan_run(now=now)
    assert alerts() == {(order.id, "warning"), (order.id, "breached")}
    assert (result.warnings, result.breaches) == (1, 1)


def test_warning_percent_comes_from_the_config(now, order_at):
    SLAConfigFactory(target_minutes=100, warning_percent=50)
    order_at(49, target_minutes=100)
    warned = order_at(50, target_minutes=100)
    sla_scan_run(now=now)
    assert alerts() == {(warned.id, "warning")}


def test_target_precedence_over_the_four_scopes(now, db):
    acme, other = ClientFactory(client_id="acme"), ClientFactory(client_id="other")
    SLAConfigFactory(client_id="acme", package_id="pkg-a", target_minutes=10)
    SLAConfigFactory(client_id="acme", package_id="", target_minutes=20)
    SLAConfigFactory(client_id="", package_id="pkg-a", target_minutes=30)
    SLAConfigFactory(client_id="", package_id="", target_minutes=40)
    age = now - timedelta(minutes=45)  # past every target
    orders = {
        10: OrderFactory(client_id=acme.id, package_id="pkg-a", created_at=age),
        20: OrderFactory(client_id=acme.id, package_id="pkg-b", created_at=age),
        30: OrderFactory(client_id=other.id, package_id="pkg-a", created_at=age),
        40: OrderFactory(client_id=other.id, package_id="pkg-b", created_at=age),
    }
    sla_scan_run(now=now)
    targets = dict(
        SLAAlert.objects.filter(type="breached").values_list("order_id", "target_minutes")
    )
    assert targets == {order.id: target for target, order in orders.items()}


def test_precedence_decides_whether_an_order_is_due(now, client_row):
    # 15 min old: past the default's 10 min, but the client's own 60 min wins.
    SLAConfigFactory(target_minutes=10)
    SLAConfigFactory(client_id=client_row.id, target_minutes=60)
    OrderFactory(client_id=client_row.id, created_at=now - timedelta(minutes=15))
    sla_scan_run(now=now)
    assert alerts() == set()


def test_inactive_config_is_skipped(now, client_row):
    SLAConfigFactory(client_id=client_row.id, package_id="pkg-basic", target_minutes=10,
                     is_active=False)  # fmt: skip
    SLAConfigFactory(target_minutes=60)
    OrderFactory(client_id=client_row.id, created_at=now - timedelta(minutes=30))
    warned = OrderFactory(client_id=client_row.id, created_at=now - timedelta(minutes=50))
    sla_scan_run(now=now)
    # Judged by the default's 60 min (50 %, 83 %), not the inactive 10 min (300 %, 500 %).
    assert alerts() == {(warned.id, "warning")}


def test_order_without_a_target_is_counted_not_alerted(now, order_at):
    SLAConfigFactory(client_id="someone-else", target_minutes=1)
    order_at(1000)
    result = sla_scan_run(now=now)
    assert alerts() == set()
    assert (result.scanned, result.without_target) == (1, 1)


@pytest.mark.parametrize("status", ["completed", "delivered", "cancelled"])
def test_closed_orders_are_never_alerted(now, default_config, order_at, status):
    order_at(500, status=status)
    result = sla_scan_run(now=now)
    assert alerts() == set()
    assert result.scanned == 0


def test_open_statuses_are_all_scanned(now, default_config, order_at):
    for status in ["pending", "in_progress", "awaiting_client", "exception"]:
        order_at(90, status=status)
    assert sla_scan_run(now=now).warnings == 4


def test_batches_create_everything(now, default_config, order_at):
    for _ in range(7):
        order_at(150)
    result = sla_scan_run(now=now, batch_size=3)
    assert (result.warnings, result.breaches) == (7, 7)
    assert SLAAlert.objects.count() == 14


def test_detection_query_alone_writes_nothing(now, default_config, order_at):
    order = order_at(150)
    order_at(10)
    assert sorted(due_alerts(now=now)) == [(order.id, "breached", 60), (order.id, "warning", 60)]
    assert not SLAAlert.objects.exists()


def test_one_alert_that_cannot_be_announced_is_retried_and_the_rest_go_on(
    now, default_config, order_at, ops_manager, monkeypatch, caplog
):
    bad, good = order_at(90), order_at(90)
    from sla import services

    real = services.notify_many

    def notify_many(notices):
        notices = list(notices)
        if any(notice.order_id == bad.id for notice in notices):
            raise RuntimeError("boom")
        return real(notices)

    monkeypatch.setattr(services, "notify_many", notify_many)  # nothing real can provoke it
    result = sla_scan_run(now=now)
    assert result.warnings == 1
    assert alerts() == {(good.id, "warning")}
    assert list(AdminNotification.objects.values_list("order_id", flat=True)) == [good.id]
    assert f"for order {bad.id} failed; the next run retries it" in caplog.text
    monkeypatch.setattr(services, "notify_many", real)
    assert sla_scan_run(now=now).warnings == 1
    assert alerts() == {(good.id, "warning"), (bad.id, "warning")}


def test_one_breach_that_cannot_be_announced_is_retried_and_the_rest_go_on(
    now, default_config, order_at, monkeypatch, queued_tasks
):
    bad, good = order_at(150), order_at(150)
    from sla import services

    real = services.publish_many

    def publish_many(channel, datas):
        datas = list(datas)
        if any(data["orderId"] == bad.id for data in datas):
            raise RuntimeError("boom")
        return real(channel, datas)

    monkeypatch.setattr(services, "publish_many", publish_many)  # nothing real can provoke it
    result = sla_scan_run(now=now)
    assert result.breaches == 1
    assert alerts() == {(good.id, "warning"), (good.id, "breached"), (bad.id, "warning")}
    # The failed batch's event and task were rolled back with its savepoint.
    assert [json.loads(e.payload)["data"]["orderId"] for e in OutboxEvent.objects.all()] == [
        good.id
    ]
    triggers = [t for func, args in queued_tasks() if func == ESCALATION_TASK for t in args[0]]
    assert [t[0] for t in triggers] == [good.id]
    monkeypatch.setattr(services, "publish_many", real)
    assert sla_scan_run(now=now).breaches == 1
    assert (bad.id, "breached") in alerts()


def test_a_batch_of_breaches_is_one_event_insert_and_one_task_per_chunk(
    now, default_config, order_at, queued_tasks, monkeypatch
):
    from sla import services

    monkeypatch.setattr(services, "ESCALATION_CHUNK", 2)
    orders = [order_at(150) for _ in range(5)]
    assert sla_scan_run(now=now).breaches == 5
    assert OutboxEvent.objects.count() == 5
    tasks = [args for func, args in queued_tasks() if func == ESCALATION_TASK]
    assert [len(args[0]) for args in tasks] == [2, 2, 1]
    breaches = dict(SLAAlert.objects.filter(type="breached").values_list("order_id", "id"))
    assert sorted(t[2] for args in tasks for t in args[0]) == sorted(
        f"sla-alert:{breaches[order.id]}" for order in orders
    )


def test_queries_do_not_grow_with_orders(now):
    # 90 %: every order gets a warning but nobody is there to notify (no
    # assignee, no ops managers), so what is counted is the scan and its lookups.
    SLAConfigFactory(target_minutes=60)
    client = ClientFactory()

    def scan_queries(count: int) -> int:
        for i in range(count):
            OrderFactory(order_id=f"q{count}-{i}", client_id=client.id,
                         created_at=now - timedelta(minutes=54))  # fmt: skip
        with CaptureQueriesContext(connection) as queries:
            result = sla_scan_run(now=now)
        assert result.warnings == count
        return len(queries)

    assert scan_queries(10) == scan_queries(1000)
