from __future__ import annotations

import pytest

from escalation.models import EscalationExecution
from escalation.services import executions_run_due
from escalation.tasks import auto_escalate_batch
from notifications.models import AuditLog
from portal.orders import get_order
from tests.concurrency import run_at_once
from tests.factories import EscalationRuleFactory, OrderFactory


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_running_due_executions_apply_each_action_once(settings):
    settings.ESCALATION_BATCH_SIZE = 10  # many small claims, so the workers interleave
    orders = [OrderFactory(escalation_level=0) for _ in range(60)]
    rule = EscalationRuleFactory(actions=[{"type": "ESCALATE"}])
    EscalationExecution.objects.bulk_create(
        EscalationExecution(rule=rule, order_id=o.id, trigger="SLA_BREACH",
                            occurrence="sla-alert:1", due_at=o.created_at)
        for o in orders
    )  # fmt: skip
    ran = run_at_once(executions_run_due)
    assert sum(ran) == 60
    assert set(EscalationExecution.objects.values_list("status", flat=True)) == {"done"}
    assert all(get_order(o.id).escalation_level == 1 for o in orders)  # raised once each
    assert AuditLog.objects.filter(action="escalation.escalate").count() == 60


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_running_the_same_batch_task_apply_each_action_once(settings):
    # The SLA scan's task run twice at once (a retry overlapping the first run):
    # the unique occurrence and the one-statement claim keep every action single.
    settings.ESCALATION_BATCH_SIZE = 15
    orders = [OrderFactory(escalation_level=0) for _ in range(40)]
    EscalationRuleFactory(actions=[{"type": "ESCALATE"}], priority=1)
    EscalationRuleFactory(actions=[{"type": "ESCALATE", "level": 3}], priority=2)
    triggers = [[o.id, "SLA_BREACH", f"sla-alert:{n}", {"elapsedPercent": 120.0}]
                for n, o in enumerate(orders)]  # fmt: skip
    ran = run_at_once(lambda: auto_escalate_batch(triggers)["ran"])
    assert sum(ran) == 80
    assert EscalationExecution.objects.filter(status="done").count() == 80
    assert all(get_order(o.id).escalation_level == 3 for o in orders)
    assert AuditLog.objects.filter(action="escalation.escalate").count() == 80
