"""Closing an order resolves its SLA alerts, once."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.utils.module_loading import import_string

from notifications.models import AuditLog
from portal.events import InboundEvent
from sla.handlers import resolve_alerts_on_close
from sla.models import SLAAlert
from sla.services import sla_scan_run
from tests.factories import SLAAlertFactory, SLAConfigFactory

pytestmark = pytest.mark.django_db


def status_changed(order_id: str, status: str) -> InboundEvent:
    return InboundEvent(
        id="evt-1",
        channel="order:status:changed",
        data={"orderId": order_id, "status": status, "previousStatus": "in_progress"},
    )


def test_handler_is_registered_for_status_changes():
    paths = settings.EVENT_HANDLERS["order:status:changed"]
    assert "sla.handlers.resolve_alerts_on_close" in paths
    assert import_string("sla.handlers.resolve_alerts_on_close") is resolve_alerts_on_close


@pytest.mark.parametrize("status", ["completed", "delivered", "cancelled"])
def test_closing_an_order_resolves_its_open_alerts(now, order_at, status):
    SLAConfigFactory(target_minutes=60)
    order = order_at(150)
    other = order_at(150)
    sla_scan_run(now=now)

    resolve_alerts_on_close(status_changed(order.id, status))

    assert set(
        SLAAlert.objects.filter(order_id=order.id).values_list("resolved_at", flat=True)
    ) == {now}
    assert not SLAAlert.objects.filter(order_id=other.id, resolved_at__isnull=False).exists()
    audits = AuditLog.objects.filter(action="sla.alert_resolved")
    assert audits.count() == 2
    assert all(status in a.reason and a.after["resolvedAt"] for a in audits)


def test_resolving_twice_changes_and_audits_nothing_more(now, time_machine):
    alert = SLAAlertFactory(order_id="o-1")
    resolve_alerts_on_close(status_changed("o-1", "completed"))
    time_machine.shift(600)
    resolve_alerts_on_close(status_changed("o-1", "completed"))
    alert.refresh_from_db()
    assert alert.resolved_at == now
    assert AuditLog.objects.filter(action="sla.alert_resolved").count() == 1


def test_an_already_resolved_alert_keeps_its_time(now):
    earlier = now.replace(hour=1)
    resolved = SLAAlertFactory(order_id="o-2", type="warning", resolved_at=earlier)
    open_breach = SLAAlertFactory(order_id="o-2", type="breached")
    resolve_alerts_on_close(status_changed("o-2", "delivered"))
    resolved.refresh_from_db()
    open_breach.refresh_from_db()
    assert (resolved.resolved_at, open_breach.resolved_at) == (earlier, now)


@pytest.mark.parametrize("status", ["in_progress", "exception", "pending", None])
def test_open_statuses_resolve_nothing(now, status):
    SLAAlertFactory(order_id="o-3")
    resolve_alerts_on_close(status_changed("o-3", status))
    assert SLAAlert.objects.get().resolved_at is None
