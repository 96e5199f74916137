from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from escalation.handlers import cancel_pending_on_close
from escalation.models import EscalationExecution
from escalation.services import executions_claim_due, executions_recover_stale
from escalation.tasks import auto_escalate, escalation_periodic
from notifications.models import AdminNotification, AuditLog
from portal.events import InboundEvent
from portal.orders import get_order
from tests.factories import ClientFactory, EscalationRuleFactory, OrderFactory

pytestmark = pytest.mark.django_db

BREACH = {"elapsedPercent": 130.0, "targetMinutes": 60, "elapsedMinutes": 78}


def breach(order_id: str, alert_id: int = 1):
    return auto_escalate(order_id, "SLA_BREACH", f"sla-alert:{alert_id}", BREACH)


def actions_of(order_id: str) -> list[str]:
    return list(
        AuditLog.objects.filter(target_type="order", target_id=order_id)
        .order_by("id")
        .values_list("action", flat=True)
    )


def test_matching_rule_runs_at_once_and_is_audited(member):
    bob = member("processor", username="bob")
    order = OrderFactory(escalation_level=0)
    rule = EscalationRuleFactory(
        conditions={"minElapsedPercent": 120},
        actions=[{"type": "REASSIGN", "toRole": "processor"}, {"type": "ESCALATE"}],
    )
    breach(order.id)
    execution = EscalationExecution.objects.get()
    assert (execution.rule, execution.status, execution.attempts) == (rule, "done", 1)
    after = get_order(order.id)
    assert (after.escalation_level, after.assigned_to_id) == (1, bob.id)
    rows = AuditLog.objects.filter(target_id=order.id).order_by("id")
    assert [(r.action, r.before, r.actor_label) for r in rows] == [
        ("escalation.reassign", {"assignedToId": None}, f"escalation-rule:{rule.id}"),
        ("escalation.escalate", {"escalationLevel": 0}, f"escalation-rule:{rule.id}"),
    ]
    assert rows[1].after["escalationLevel"] == 1 and rows[1].after["execution"] == execution.id
    assert f"Rule #{rule.id}" in rows[0].reason and order.id in rows[0].reason


def test_non_matching_and_inactive_rules_do_nothing():
    order = OrderFactory()
    EscalationRuleFactory(conditions={"minElapsedPercent": 150})
    EscalationRuleFactory(is_active=False)
    EscalationRuleFactory(trigger_type="VENDOR_OFFLINE")
    assert breach(order.id) == {"matched": 0, "ran": 0}
    assert not EscalationExecution.objects.exists()


def test_writes_leave_the_portals_updated_at_alone(member):
    member("processor")
    order = OrderFactory()
    EscalationRuleFactory(
        actions=[{"type": "REASSIGN", "toRole": "processor"}, {"type": "ESCALATE", "level": 3}]
    )
    breach(order.id)
    assert get_order(order.id).updated_at == order.updated_at


def test_rules_run_by_priority_then_id():
    order = OrderFactory(escalation_level=0)
    late = EscalationRuleFactory(priority=5, actions=[{"type": "ESCALATE", "level": 4}])
    first = EscalationRuleFactory(priority=1, actions=[{"type": "ESCALATE"}])
    second = EscalationRuleFactory(priority=1, actions=[{"type": "ESCALATE"}])
    breach(order.id)
    levels = [
        (row.actor_label, row.before["escalationLevel"], row.after["escalationLevel"])
        for row in AuditLog.objects.filter(target_id=order.id).order_by("id")
    ]
    assert levels == [
        (f"escalation-rule:{first.id}", 0, 1),
        (f"escalation-rule:{second.id}", 1, 2),
        (f"escalation-rule:{late.id}", 2, 4),
    ]


def test_the_same_breach_twice_runs_each_rule_once():
    order = OrderFactory(escalation_level=0)
    EscalationRuleFactory(actions=[{"type": "ESCALATE"}])
    EscalationRuleFactory(actions=[{"type": "ESCALATE"}])
    breach(order.id, alert_id=7)
    breach(order.id, alert_id=7)
    assert EscalationExecution.objects.count() == 2
    assert get_order(order.id).escalation_level == 2
    assert actions_of(order.id).count("escalation.escalate") == 2
    breach(order.id, alert_id=8)  # a new occurrence is a new escalation
    assert get_order(order.id).escalation_level == 4


def test_delayed_actions_wait_and_run_right_after_the_delay():
    order = OrderFactory(escalation_level=0)
    EscalationRuleFactory(delay_minutes=30, actions=[{"type": "ESCALATE", "level": 2}])
    with time_machine.travel("2025-03-01 09:00Z", tick=False) as clock:
        breach(order.id)
        clock.shift(timedelta(minutes=29, seconds=59))
        escalation_periodic()
        assert get_order(order.id).escalation_level == 0
        assert EscalationExecution.objects.get().status == "pending"
        clock.shift(timedelta(seconds=1))
        escalation_periodic()
    assert get_order(order.id).escalation_level == 2
    assert EscalationExecution.objects.get().status == "done"


def test_closing_the_order_cancels_its_pending_actions():
    order = OrderFactory(escalation_level=0)
    EscalationRuleFactory(delay_minutes=30, actions=[{"type": "ESCALATE"}])
    EscalationRuleFactory(delay_minutes=0, actions=[{"type": "ESCALATE"}])
    with time_machine.travel("2025-03-01 09:00Z", tick=False) as clock:
        breach(order.id)
        event = InboundEvent(
            id="e1",
            channel="order:status:changed",
            data={"orderId": order.id, "status": "completed"},
        )
        cancel_pending_on_close(event)
        cancel_pending_on_close(event)  # idempotent
        clock.shift(timedelta(minutes=31))
        escalation_periodic()
    statuses = sorted(EscalationExecution.objects.values_list("status", flat=True))
    assert statuses == ["cancelled", "done"]
    assert get_order(order.id).escalation_level == 1
    assert actions_of(order.id).count("escalation.cancelled") == 1


def test_an_open_status_change_cancels_nothing():
    order = OrderFactory()
    EscalationRuleFactory(delay_minutes=30)
    breach(order.id)
    cancel_pending_on_close(
        InboundEvent(
            id="e",
            channel="order:status:changed",
            data={"orderId": order.id, "status": "exception"},
        )
    )
    assert EscalationExecution.objects.get().status == "pending"


def test_an_order_closed_behind_our_back_is_cancelled_when_due():
    order = OrderFactory()
    EscalationRuleFactory(delay_minutes=5)
    with time_machine.travel("2025-03-01 09:00Z", tick=False) as clock:
        breach(order.id)
        with connection.cursor() as cursor:
            cursor.execute("UPDATE orders SET status = 'delivered' WHERE id = %s", [order.id])
        clock.shift(timedelta(minutes=6))
        escalation_periodic()
    execution = EscalationExecution.objects.get()
    assert execution.status == "cancelled" and "order closed (delivered)" in execution.error


def test_reassign_picks_the_least_loaded_active_member_ties_by_id(member):
    busy, idle_a, idle_b = member("processor"), member("processor"), member("processor")
    member("processor", is_active=False)  # never chosen
    OrderFactory(assigned_to_id=busy.id)
    OrderFactory(assigned_to_id=idle_b.id)
    OrderFactory(assigned_to_id=idle_a.id, status="completed")  # closed orders do not count
    EscalationRuleFactory(actions=[{"type": "REASSIGN", "toRole": "processor"}])
    first, second = OrderFactory(), OrderFactory()
    breach(first.id)
    assert get_order(first.id).assigned_to_id == idle_a.id
    breach(second.id)  # idle_a now has 1 like the others: lowest id wins
    assert get_order(second.id).assigned_to_id == busy.id


def test_reassign_to_an_empty_role_fails_audited_and_tells_ops_managers(member):
    manager = member("opsmanager")
    member("processor", is_active=False)
    order = OrderFactory(assigned_to_id=None)
    EscalationRuleFactory(
        actions=[{"type": "REASSIGN", "toRole": "processor"}, {"type": "ESCALATE"}]
    )
    breach(order.id)
    execution = EscalationExecution.objects.get()
    assert execution.status == "failed" and "no active members" in execution.error
    assert actions_of(order.id) == ["escalation.reassign_failed", "escalation.escalate"]
    assert get_order(order.id).escalation_level == 1  # the other actions still ran
    alert = AdminNotification.objects.get(recipient=manager)
    assert "failed" in alert.title and order.id in alert.title


def test_escalate_never_lowers_a_level():
    order = OrderFactory(escalation_level=3)
    EscalationRuleFactory(actions=[{"type": "ESCALATE", "level": 1}])
    breach(order.id)
    assert get_order(order.id).escalation_level == 3
    row = AuditLog.objects.get(target_id=order.id)
    assert (row.action, row.before, row.after["escalationLevel"]) == (
        "escalation.escalate",
        {"escalationLevel": 3},
        3,
    )


def test_notify_names_the_order_rule_and_reason_once(member):
    alice = member("opsmanager", username="alice")
    order = OrderFactory()
    rule = EscalationRuleFactory(
        name="Gold breach", actions=[{"type": "NOTIFY", "toUser": "alice", "message": "Call"}]
    )
    breach(order.id)
    breach(order.id)
    note = AdminNotification.objects.get(recipient=alice)
    assert order.id in note.title and "Gold breach" in note.title
    assert "Call" in note.body and f"Rule #{rule.id}" in note.body and "sla-alert:1" in note.body


def test_client_tier_condition_reads_the_clients_tier():
    gold = OrderFactory(client_id=ClientFactory(tier="gold").id, escalation_level=0)
    plain = OrderFactory(escalation_level=0)
    EscalationRuleFactory(conditions={"clientTier": "gold"})
    breach(gold.id)
    breach(plain.id)
    assert (get_order(gold.id).escalation_level, get_order(plain.id).escalation_level) == (1, 0)


def test_rule_made_invalid_in_the_database_is_skipped_and_reported(member):
    manager = member("opsmanager")
    order = OrderFactory(escalation_level=0)
    bad = EscalationRuleFactory(actions=[{"type": "TELEPORT"}])
    EscalationRuleFactory(priority=2, actions=[{"type": "ESCALATE"}])
    breach(order.id, alert_id=1)
    breach(order.id, alert_id=2)
    assert get_order(order.id).escalation_level == 2  # the valid rule ran both times
    assert not EscalationExecution.objects.filter(rule=bad).exists()
    note = AdminNotification.objects.get(recipient=manager)  # deduplicated
    assert f"#{bad.id}" in note.title and "TELEPORT" in note.body


def test_rule_broken_while_its_execution_waits_fails_it(member):
    member("opsmanager")
    order = OrderFactory(escalation_level=0)
    rule = EscalationRuleFactory(delay_minutes=10)
    with time_machine.travel("2025-03-01 09:00Z", tick=False) as clock:
        breach(order.id)
        type(rule).objects.filter(pk=rule.pk).update(conditions={"minElapsedPercent": "x"})
        clock.shift(timedelta(minutes=11))
        escalation_periodic()
    execution = EscalationExecution.objects.get()
    assert execution.status == "failed" and "rule invalid" in execution.error
    assert get_order(order.id).escalation_level == 0


def test_vendor_offline_trigger_matches_the_vendor_in_its_context():
    order = OrderFactory(vendor_id=4, escalation_level=0)
    EscalationRuleFactory(trigger_type="VENDOR_OFFLINE", conditions={"vendorId": 4})
    auto_escalate(
        order.id, "VENDOR_OFFLINE", "vendor-offline:4:2025-03-01T09:00:00+00:00", {"vendorId": 4}
    )
    assert get_order(order.id).escalation_level == 1


def test_exception_unresolved_is_found_by_the_periodic_run():
    EscalationRuleFactory(
        trigger_type="EXCEPTION_UNRESOLVED",
        conditions={"minutesUnresolved": 60},
        actions=[{"type": "ESCALATE"}],
    )
    with time_machine.travel("2025-03-01 09:00Z", tick=False) as clock:
        stuck = OrderFactory(status="exception", escalation_level=0)
        OrderFactory(status="in_progress")
        clock.shift(timedelta(minutes=59))
        escalation_periodic()
        assert get_order(stuck.id).escalation_level == 0
        clock.shift(timedelta(minutes=1))
        escalation_periodic()
        escalation_periodic()  # still the same occurrence: nothing new
    assert get_order(stuck.id).escalation_level == 1
    execution = EscalationExecution.objects.get()
    assert execution.occurrence == f"exception:{stuck.updated_at.isoformat()}"


def test_a_run_lost_with_its_worker_runs_again_then_gives_up(member):
    member("opsmanager")
    order = OrderFactory(escalation_level=0)
    EscalationRuleFactory(delay_minutes=1)
    with time_machine.travel("2025-03-01 09:00Z", tick=False) as clock:
        breach(order.id)
        clock.shift(timedelta(minutes=1))
        assert executions_claim_due()  # claimed, then the worker "dies"
        clock.shift(timedelta(minutes=11))
        assert executions_recover_stale() == (1, 0)
        escalation_periodic()
    assert EscalationExecution.objects.get().status == "done"
    assert get_order(order.id).escalation_level == 1  # once

    EscalationExecution.objects.update(
        status="running", attempts=3, started_at=timezone.now() - timedelta(hours=1)
    )
    assert executions_recover_stale() == (0, 1)
    assert EscalationExecution.objects.get().status == "failed"


def test_escalate_command_runs_manual_rules(capsys):
    order = OrderFactory(escalation_level=0)
    EscalationRuleFactory(
        name="Manual bump", trigger_type="MANUAL", actions=[{"type": "ESCALATE", "level": 2}]
    )
    call_command("escalate", order.id)
    assert "Manual bump: done escalation level raised to 2" in capsys.readouterr().out
    call_command("escalate", order.id)  # a new manual occurrence each time
    assert EscalationExecution.objects.count() == 2
