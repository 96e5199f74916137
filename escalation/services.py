"""Escalation: schedule executions for matching rules, claim and run the due ones, cancel.

Life of an execution: created pending (due at trigger time + the rule's
delay) by `executions_schedule`; claimed pending -> running by a conditional
UPDATE in `executions_claim_due`; run in one transaction that writes the
order, the audit rows and running -> done/failed together; or pending ->
cancelled when the order closes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from escalation.actions import Batch, execution_audit_row, execution_audit_values
from escalation.bulk import rows_insert, rows_update
from escalation.conditions import EXCEPTION_STATUS, Subject, conditions_match, needs_client_tier
from escalation.models import EscalationExecution, EscalationRule, ExecutionStatus, TriggerType
from escalation.schema import rule_problems
from notifications.models import AuditLog, NotificationLevel
from notifications.roles import OPS_MANAGER
from notifications.services import notify
from portal import orders as portal_orders
from portal.orders import OrderRow

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Trigger:
    order_id: str
    trigger: str
    occurrence: str
    context: dict[str, Any] = field(default_factory=dict)


# --- rules -----------------------------------------------------------------------


def _report_invalid_rule(rule: EscalationRule, problems: list[str]) -> None:
    """Log and tell the ops managers, once per rule content (a fix changes the key)."""
    logger.error("escalation rule %s %r is invalid, skipped: %s", rule.id, rule.name, problems)
    content = json.dumps([rule.conditions, rule.actions], sort_keys=True, default=str)
    digest = hashlib.sha256(content.encode()).hexdigest()[:16]
    notify(
        title=f"Escalation rule #{rule.id} {rule.name!r} is invalid and was skipped",
        body="Fix it in the admin: " + "; ".join(problems),
        role=OPS_MANAGER,
        level=NotificationLevel.CRITICAL,
        dedupe_key=f"escalation-rule-invalid:{rule.id}:{digest}",
    )


def valid_rules(trigger: str) -> list[EscalationRule]:
    """Active rules of the trigger, by priority then id; invalid ones skipped and reported."""
    rules = []
    for rule in EscalationRule.objects.filter(trigger_type=trigger, is_active=True).order_by(
        "priority", "id"
    ):
        problems = rule_problems(rule.conditions, rule.actions)
        if problems:
            _report_invalid_rule(rule, problems)
        else:
            rules.append(rule)
    return rules


# --- scheduling --------------------------------------------------------------------


def executions_schedule(
    *,
    triggers: list[Trigger],
    now: datetime | None = None,
    orders: dict[str, OrderRow] | None = None,
) -> int:
    """Create a pending execution for every (trigger, matching rule); return how many matched.

    Set-based: the rules, orders and client tiers are read once for all the
    triggers, the executions written with one INSERT per five thousand rows. The
    unique (rule, order, occurrence) with ON CONFLICT DO NOTHING makes a
    repeated trigger create nothing new, however many workers repeat it.
    """
    now = now or timezone.now()
    rules_by_trigger = {kind: valid_rules(kind) for kind in {t.trigger for t in triggers}}
    if not any(rules_by_trigger.values()):
        return 0
    if orders is None:
        orders = portal_orders.get_orders([t.order_id for t in triggers])
    tiers: dict[str, str] = {}
    if any(needs_client_tier(r.conditions) for rules in rules_by_trigger.values() for r in rules):
        tiers = portal_orders.client_tiers([o.client_id for o in orders.values()])
    executions = []
    for trigger in triggers:
        order = orders.get(trigger.order_id)
        if order is None or order.is_closed:
            logger.info(
                "escalation %s for order %s skipped: %s",
                trigger.occurrence,
                trigger.order_id,
                "no such order" if order is None else "order closed",
            )
            continue
        subject = Subject(
            order=order,
            now=now,
            client_tier=tiers.get(order.client_id),
            context=trigger.context or {},
        )
        executions += [
            {
                "rule_id": rule.id,
                "order_id": order.id,
                "trigger": trigger.trigger,
                "occurrence": trigger.occurrence,
                "context": trigger.context or {},
                "due_at": now + timedelta(minutes=rule.delay_minutes),
            }
            for rule in rules_by_trigger[trigger.trigger]
            if conditions_match(rule.conditions, subject)
        ]
    rows_insert(EscalationExecution, executions, ignore_conflicts=True)
    return len(executions)


# --- claiming and running ------------------------------------------------------------


def executions_claim_due(
    *,
    now: datetime | None = None,
    limit: int | None = None,
    order_id: str | None = None,
    execution_ids: list[int] | None = None,
    due_only: bool = True,
) -> list[int]:
    """Move due pending executions to running; return the ids this caller now owns.

    SKIP LOCKED lets two clusters claim disjoint batches at once on
    PostgreSQL; the `status = pending` condition of the UPDATE means a row
    claimed elsewhere is never claimed twice (SQLite serialises the writers).
    """
    now = now or timezone.now()
    pending = EscalationExecution.objects.filter(status=ExecutionStatus.PENDING)
    if due_only:
        pending = pending.filter(due_at__lte=now)
    if order_id is not None:
        pending = pending.filter(order_id=order_id)
    if execution_ids is not None:
        pending = pending.filter(id__in=execution_ids)
    pending = pending.select_for_update(skip_locked=True).order_by("due_at", "id")
    limit = limit or settings.ESCALATION_BATCH_SIZE
    with transaction.atomic():
        if connection.vendor == "postgresql":
            return _claim_returning(pending.values("id")[:limit], now)
        ids = list(pending.values_list("id", flat=True)[:limit])
        if ids:
            EscalationExecution.objects.filter(id__in=ids, status=ExecutionStatus.PENDING).update(
                status=ExecutionStatus.RUNNING, started_at=now, attempts=F("attempts") + 1
            )
    return ids


def _claim_returning(locked_ids: QuerySet, now: datetime) -> list[int]:
    """The claim as one statement: UPDATE ... WHERE id IN (SELECT ... SKIP LOCKED) RETURNING id.

    Half the round trips of select-then-update, and the ids come back from
    the rows actually changed. The subquery is the ORM's own SQL (FOR UPDATE
    SKIP LOCKED LIMIT n), so its filters stay in one place.
    """
    inner, params = locked_ids.query.sql_with_params()
    table = EscalationExecution._meta.db_table
    sql = (
        f'UPDATE "{table}" SET status = %s, started_at = %s, attempts = attempts + 1 '  # noqa: S608
        f"WHERE id IN ({inner}) AND status = %s RETURNING id"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            [ExecutionStatus.RUNNING, now, *params, ExecutionStatus.PENDING],
        )
        return sorted(row[0] for row in cursor.fetchall())


def executions_run(*, execution_ids: list[int]) -> None:
    """Run claimed executions in one transaction; if that fails, each half again.

    Halving isolates a bad execution in about 2 x log2(n) transactions (not n
    one-by-one ones, which for a batch of thousands would outlast the task
    timeout): it alone ends failed (logged, audited) and the others still
    run. Never raises.
    """
    if not execution_ids:
        return
    try:
        with transaction.atomic():
            _run_batch(execution_ids)
        return
    except Exception as exc:
        if len(execution_ids) == 1:
            logger.exception("escalation execution %s failed", execution_ids[0])
            _mark_crashed(execution_ids[0])
            return
        logger.warning(
            "escalation batch of %s failed (%r); running each half again", len(execution_ids), exc
        )
    half = len(execution_ids) // 2
    executions_run(execution_ids=execution_ids[:half])
    executions_run(execution_ids=execution_ids[half:])


def _run_batch(execution_ids: list[int]) -> None:
    now = timezone.now()
    executions = _claimed(execution_ids)
    orders = portal_orders.get_orders([e.order_id for e in executions])
    batch = Batch(orders=orders, now=now)
    lifecycle: list[dict[str, Any]] = []
    reported_rules: set[int] = set()
    rule_checks: dict[int, list[str]] = {}
    for execution in executions:
        if execution.rule_id not in rule_checks:
            rule = execution.rule
            rule_checks[execution.rule_id] = rule_problems(rule.conditions, rule.actions)
        problem, status = _problem(rule_checks[execution.rule_id], orders.get(execution.order_id))
        if problem is None:
            batch.apply(execution)
            continue
        if status == ExecutionStatus.FAILED and execution.rule_id not in reported_rules:
            reported_rules.add(execution.rule_id)
            _report_invalid_rule(execution.rule, [problem])
        execution.status, execution.error = status, problem
        lifecycle.append(
            execution_audit_values(
                execution,
                action=f"escalation.{status}",
                detail=problem,
                before={"status": "running"},
                after={"status": status},
            )
        )
    batch.write()
    rows_insert(AuditLog, lifecycle)
    _finish(executions, batch, now)


def _claimed(execution_ids: list[int]) -> list[EscalationExecution]:
    """The running executions among the ids, in run order, each with its rule.

    Only the columns the run reads, and each rule loaded once for the batch
    (not joined into every row): thousands of executions share a few rules.
    """
    executions = list(
        EscalationExecution.objects.filter(id__in=execution_ids, status=ExecutionStatus.RUNNING)
        .only("id", "rule_id", "order_id", "trigger", "occurrence", "context", "status", "result")
        .order_by("order_id", "rule__priority", "rule_id", "id")
    )
    rules = EscalationRule.objects.in_bulk({e.rule_id for e in executions})
    for execution in executions:
        execution.rule = rules[execution.rule_id]
    return executions


def _problem(problems: list[str], order: OrderRow | None) -> tuple[str | None, str]:
    """Why the execution must not run its actions (and its end status), or None.

    `problems` are its rule's, checked once per rule and batch: the rule may
    have been broken in the database since the execution was scheduled.
    """
    if problems:
        return "rule invalid, skipped: " + "; ".join(problems), ExecutionStatus.FAILED
    if order is None:
        return "order not found", ExecutionStatus.FAILED
    if order.is_closed:
        problem = f"order closed ({order.status}) before the actions were due"
        return problem, ExecutionStatus.CANCELLED
    return None, ExecutionStatus.DONE


def _finish(executions: list[EscalationExecution], batch: Batch, now: datetime) -> None:
    """Write each execution's end status, result and error, in one statement on PostgreSQL.

    The result keeps each action's type, outcome and detail (before and after
    are in the audit rows).
    """
    results: dict[int, list] = {}
    for outcome in batch.outcomes:
        results.setdefault(outcome.execution.id, []).append(
            {"type": outcome.type, "ok": outcome.ok, "detail": outcome.detail}
        )
    ends = []
    for execution in executions:
        if execution.status == ExecutionStatus.RUNNING:
            result = results.get(execution.id, [])
            failures = [
                f"action {i + 1}: {r['detail']}" for i, r in enumerate(result) if not r["ok"]
            ]
            execution.status = ExecutionStatus.FAILED if failures else ExecutionStatus.DONE
            execution.result, execution.error = result, "; ".join(failures)
        ends.append(
            {
                "id": execution.id,
                "status": execution.status,
                "result": execution.result,
                "error": execution.error,
            }
        )
    rows_update(EscalationExecution, ends, also={"finished_at": now})


def _mark_crashed(execution_id: int) -> None:
    try:
        with transaction.atomic():
            execution = EscalationExecution.objects.select_related("rule").get(pk=execution_id)
            updated = EscalationExecution.objects.filter(
                pk=execution_id, status=ExecutionStatus.RUNNING
            ).update(
                status=ExecutionStatus.FAILED,
                finished_at=timezone.now(),
                error="crashed; see the worker log",
            )
            if updated:
                execution_audit_row(
                    execution,
                    action="escalation.failed",
                    detail="crashed; see the worker log",
                    before={"status": "running"},
                    after={"status": "failed"},
                ).save()
    except Exception:
        logger.exception("could not mark escalation execution %s failed", execution_id)


def executions_run_due(*, order_id: str | None = None, budget_seconds: float | None = None) -> int:
    """Claim and run due executions in batches until none is left (or the budget is spent)."""
    started = time.monotonic()
    budget = settings.ESCALATION_RUN_BUDGET_SECONDS if budget_seconds is None else budget_seconds
    ran = 0
    while time.monotonic() - started < budget:
        ids = executions_claim_due(order_id=order_id)
        if not ids:
            break
        executions_run(execution_ids=ids)
        ran += len(ids)
    return ran


def executions_run_now(*, execution_ids: list[int]) -> int:
    """The admin's "run now": pending ones, due or not. Returns how many ran."""
    ids = executions_claim_due(
        execution_ids=execution_ids, due_only=False, limit=len(execution_ids) or 1
    )
    executions_run(execution_ids=ids)
    return len(ids)


# --- stale, cancelled ---------------------------------------------------------------------


def executions_recover_stale(*, now: datetime | None = None) -> tuple[int, int]:
    """Executions left running by a killed worker: run again, or failed after max attempts.

    Running again is safe: an execution's effects (order writes, audit rows,
    its final status) commit in one transaction, so a killed run left none of
    them behind; only its claim. The timeout is far above the task timeout, so
    a live run is never taken from under its worker. Returns (requeued, failed).
    """
    now = now or timezone.now()
    stale = EscalationExecution.objects.filter(
        status=ExecutionStatus.RUNNING,
        started_at__lt=now - timedelta(minutes=settings.ESCALATION_RUNNING_TIMEOUT_MINUTES),
    )
    limit = settings.ESCALATION_MAX_ATTEMPTS
    requeued = stale.filter(attempts__lt=limit).update(status=ExecutionStatus.PENDING)
    with transaction.atomic():
        given_up = list(
            stale.filter(attempts__gte=limit)
            .select_for_update(skip_locked=True)
            .select_related("rule")
        )
        detail = f"worker lost {limit} times; given up"
        _executions_end(
            given_up, was=ExecutionStatus.RUNNING, status=ExecutionStatus.FAILED,
            detail=detail, now=now,
        )  # fmt: skip
    for execution in given_up:
        notify(
            title=f"Escalation gave up on order {execution.order_id}",
            body=f"Execution {execution.id} of rule {execution.rule}: {detail}.",
            role=OPS_MANAGER,
            level=NotificationLevel.CRITICAL,
            order_id=execution.order_id,
            dedupe_key=f"escalation:{execution.id}:given-up",
        )
    if requeued or given_up:
        logger.warning("escalation: %s lost runs requeued, %s failed", requeued, len(given_up))
    return requeued, len(given_up)


@transaction.atomic
def executions_cancel_for_order(*, order_id: str, reason: str) -> int:
    """Cancel the order's pending executions (audited); running ones check the order themselves."""
    pending = list(
        EscalationExecution.objects.filter(order_id=order_id, status=ExecutionStatus.PENDING)
        .select_for_update()
        .select_related("rule")
    )
    if not pending:
        return 0
    _executions_end(
        pending, was=ExecutionStatus.PENDING, status=ExecutionStatus.CANCELLED, detail=reason,
        now=timezone.now(), before=lambda e: {"dueAt": e.due_at.isoformat()},
    )  # fmt: skip
    return len(pending)


def _executions_end(
    executions: list[EscalationExecution],
    *,
    was: str,
    status: str,
    detail: str,
    now: datetime,
    before: Callable[[EscalationExecution], dict[str, Any]] | None = None,
) -> None:
    """Move locked executions from `was` to the end `status`, with one audit row each."""
    EscalationExecution.objects.filter(id__in=[e.id for e in executions], status=was).update(
        status=status, finished_at=now, error=detail
    )
    AuditLog.objects.bulk_create(
        execution_audit_row(
            e,
            action=f"escalation.{status}",
            detail=detail,
            before={"status": was, **(before(e) if before else {})},
            after={"status": status},
        )
        for e in executions
    )


# --- triggers -----------------------------------------------------------------------------


def escalation_trigger(
    *, order_id: str, trigger: str, occurrence: str, context: dict[str, Any] | None = None
) -> dict[str, int]:
    """One trigger for one order: schedule matching rules, run what is due now."""
    matched = executions_schedule(triggers=[Trigger(order_id, trigger, occurrence, context or {})])
    ran = executions_run_due(order_id=order_id) if matched else 0
    return {"matched": matched, "ran": ran}


def exception_unresolved_scan(*, now: datetime | None = None) -> int:
    """Trigger EXCEPTION_UNRESOLVED for orders in status exception, set-based.

    The occurrence is the moment the order entered the status (its
    updated_at), so an order that stays there triggers each rule once, and
    one that leaves and comes back triggers again.
    """
    now = now or timezone.now()
    rules = valid_rules(TriggerType.EXCEPTION_UNRESOLVED)
    if not rules:
        return 0
    shortest = min(rule.conditions.get("minutesUnresolved", 0) for rule in rules)
    candidates = portal_orders.orders_in_status(
        EXCEPTION_STATUS, updated_before=now - timedelta(minutes=shortest)
    )
    triggers = [
        Trigger(
            order.id,
            TriggerType.EXCEPTION_UNRESOLVED,
            f"exception:{order.updated_at.isoformat()}",
            {"exceptionSince": order.updated_at.isoformat()},
        )
        for order in candidates
    ]
    return executions_schedule(
        triggers=triggers, now=now, orders={order.id: order for order in candidates}
    )
