from __future__ import annotations

import threading

import pytest
from django.db import connection

from escalation.models import EscalationExecution
from escalation.services import executions_run_due
from notifications.models import AuditLog
from portal.orders import get_order
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
    barrier, ran, errors = threading.Barrier(2), [], []

    def worker() -> None:
        try:
            barrier.wait()
            ran.append(executions_run_due())
        except Exception as exc:  # surfaced by the assertion below
            errors.append(exc)
        finally:
            connection.close()  # each thread has its own; CONN_MAX_AGE would keep it

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert not errors and sum(ran) == 60
    assert set(EscalationExecution.objects.values_list("status", flat=True)) == {"done"}
    assert all(get_order(o.id).escalation_level == 1 for o in orders)  # raised once each
    assert AuditLog.objects.filter(action="escalation.escalate").count() == 60
