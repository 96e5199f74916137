"""django-q2 entry points of the auto-escalation job (thin: ids in, services do the work)."""

from __future__ import annotations

import logging
from typing import Any

from escalation import services

logger = logging.getLogger(__name__)


def auto_escalate(
    order_id: str, trigger: str, occurrence: str, context: dict[str, Any] | None = None
) -> dict[str, int]:
    """Job auto-escalation, on demand: one trigger (SLA breach, vendor offline, manual), one order.

    Creates an execution for every matching active rule and runs those due
    now; delayed ones are left to escalation-periodic. Touches
    EscalationExecution, the order's assignee and escalation level,
    AdminNotification and AuditLog. Safe to run twice: the unique (rule,
    order, occurrence) creates nothing new, and an execution runs only after
    its pending -> running claim succeeds.
    """
    return services.escalation_trigger(
        order_id=order_id, trigger=trigger, occurrence=occurrence, context=context
    )


def auto_escalate_batch(triggers: list[list]) -> dict[str, int]:
    """Job auto-escalation for many triggers at once (the SLA scan's breaches of one batch).

    Each item is [order_id, trigger, occurrence, context]: the arguments of
    auto_escalate. Rules and orders are read once for the whole list and the
    executions written in bulk; safe to run twice for the same reasons.
    """
    items = [services.Trigger(o, t, occ, ctx or {}) for o, t, occ, ctx in triggers]
    matched = services.executions_schedule(triggers=items)
    ran = services.executions_run_due() if matched else 0
    return {"triggers": len(items), "matched": matched, "ran": ran}


def escalation_periodic() -> dict[str, int]:
    """Job escalation-periodic, every minute: the delayed and time-based part of auto-escalation.

    Requeues executions a killed worker left running, triggers
    EXCEPTION_UNRESOLVED for orders in status exception, and runs every due
    execution in batches. Safe to run twice at once (two clusters, or a slow
    run overlapping the next): executions are claimed with SKIP LOCKED and a
    conditional UPDATE, and triggers are unique per occurrence.
    """
    summary: dict[str, int] = {}
    steps = (
        ("recovered", lambda: sum(services.executions_recover_stale())),
        ("exception_matches", services.exception_unresolved_scan),
        ("ran", services.executions_run_due),
    )
    for name, step in steps:
        try:
            summary[name] = step()
        except Exception:
            # One failing step (say, the portal's table locked) must not stop the others.
            logger.exception("escalation-periodic: step %s failed", name)
            summary[name] = -1
    return summary
