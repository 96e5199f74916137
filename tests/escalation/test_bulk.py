from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from escalation import actions
from escalation.bulk import rows_insert, rows_update
from escalation.models import EscalationExecution, ExecutionStatus
from escalation.services import executions_claim_due, executions_run
from notifications.models import AuditLog
from portal.orders import get_order
from tests.factories import EscalationRuleFactory, OrderFactory

pytestmark = pytest.mark.django_db


def execution_row(rule, order_id: str, occurrence: str = "sla-alert:1", **fields) -> dict:
    return {"rule_id": rule.id, "order_id": order_id, "trigger": "SLA_BREACH",
            "occurrence": occurrence, "due_at": timezone.now(), **fields}  # fmt: skip


def test_rows_insert_fills_in_what_the_orm_would_and_keeps_values_exact():
    rule = EscalationRuleFactory()
    due = timezone.now() + timedelta(minutes=5, microseconds=123)
    rows_insert(EscalationExecution, [execution_row(rule, "o-1", due_at=due, context={"a": [1]})])
    execution = EscalationExecution.objects.get()
    assert (execution.due_at, execution.context) == (due, {"a": [1]})
    assert (execution.status, execution.attempts, execution.error) == ("pending", 0, "")
    assert execution.result is None and execution.created_at is not None


def test_rows_insert_ignoring_conflicts_skips_only_the_duplicates():
    rule = EscalationRuleFactory()
    rows_insert(EscalationExecution, [execution_row(rule, "o-1")])
    rows_insert(
        EscalationExecution,
        [execution_row(rule, "o-1"), execution_row(rule, "o-2")],
        ignore_conflicts=True,
    )
    assert sorted(EscalationExecution.objects.values_list("order_id", flat=True)) == ["o-1", "o-2"]


def test_rows_insert_stores_none_as_sql_null():
    rows_insert(AuditLog, [{"actor_type": "system", "action": "x", "target_type": "order",
                            "target_id": "o-1", "before": None, "after": {"k": None}}])  # fmt: skip
    assert AuditLog.objects.filter(before__isnull=True, after={"k": None}).count() == 1


def test_rows_update_sets_each_rows_values_and_the_common_ones():
    rule = EscalationRuleFactory()
    rows_insert(EscalationExecution, [execution_row(rule, f"o-{n}") for n in range(3)])
    ids = sorted(EscalationExecution.objects.values_list("id", flat=True))
    now = timezone.now()
    ends = [{"id": i, "status": "done", "result": [{"n": n}], "error": ""}
            for n, i in enumerate(ids[:2])]  # fmt: skip
    rows_update(EscalationExecution, ends, also={"finished_at": now})
    done = EscalationExecution.objects.filter(status="done", finished_at=now).order_by("id")
    assert [e.result for e in done] == [[{"n": 0}], [{"n": 1}]]
    assert EscalationExecution.objects.get(id=ids[2]).status == "pending"


def test_a_crashing_execution_fails_alone_and_the_rest_of_its_batch_runs(monkeypatch):
    # Fault injection: nothing real makes one action raise on demand, so one
    # order's ESCALATE is made to raise. The batch then splits in halves until
    # that execution runs alone.
    rule = EscalationRuleFactory(actions=[{"type": "ESCALATE"}])
    orders = [OrderFactory(escalation_level=0) for _ in range(9)]
    bad = orders[4].id
    rows_insert(EscalationExecution, [execution_row(rule, o.id) for o in orders])
    escalate = actions.Batch._escalate

    def flaky(self, execution, *args):
        if execution.order_id == bad:
            raise RuntimeError("boom")
        return escalate(self, execution, *args)

    monkeypatch.setattr(actions.Batch, "_escalate", flaky)
    executions_run(execution_ids=executions_claim_due())
    statuses = dict(EscalationExecution.objects.values_list("order_id", "status"))
    assert statuses.pop(bad) == ExecutionStatus.FAILED
    assert set(statuses.values()) == {ExecutionStatus.DONE}
    assert [get_order(o.id).escalation_level for o in orders].count(1) == 8
    assert AuditLog.objects.filter(action="escalation.escalate").count() == 8
    assert AuditLog.objects.filter(action="escalation.failed", target_id=bad).count() == 1
