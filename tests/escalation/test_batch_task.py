from __future__ import annotations

import pytest

from escalation.models import EscalationExecution, ExecutionStatus
from escalation.tasks import auto_escalate_batch
from portal.orders import get_order
from tests.factories import EscalationRuleFactory, OrderFactory

pytestmark = pytest.mark.django_db


def test_batch_of_triggers_runs_each_rule_once_per_occurrence():
    EscalationRuleFactory(actions=[{"type": "ESCALATE"}])
    orders = [OrderFactory() for _ in range(3)]
    triggers = [[o.id, "SLA_BREACH", f"sla-alert:{n}", {"elapsedPercent": 120.0}]
                for n, o in enumerate(orders)]  # fmt: skip
    assert auto_escalate_batch(triggers) == {"triggers": 3, "matched": 3, "ran": 3}
    assert auto_escalate_batch(triggers)["ran"] == 0  # the same occurrences: nothing new
    assert all(get_order(o.id).escalation_level == 1 for o in orders)
    assert EscalationExecution.objects.filter(status=ExecutionStatus.DONE).count() == 3
