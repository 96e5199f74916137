"""REASSIGN, NOTIFY and ESCALATE, applied for many executions with a few statements.

A `Batch` walks the claimed executions in order (by order, then rule
priority), applies each action to an in-memory copy of the order, so the
second rule sees what the first one did, and then writes: one conditional
UPDATE per (old, new) assignee pair, one per escalation level, one
bulk INSERT of audit rows. NOTIFY goes through notify() one action at a time
(with a dedupe key per execution and action, so a re-run notifies once).
Everything runs inside the caller's transaction: a worker killed half-way
leaves nothing behind but its claim.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser

from escalation.bulk import rows_insert
from escalation.models import EscalationExecution
from escalation.schema import ESCALATE, NOTIFY, REASSIGN
from notifications.models import ActorType, AuditLog, NotificationLevel
from notifications.roles import OPS_MANAGER, role_members
from notifications.services import notify
from portal import orders as portal_orders
from portal.orders import OrderRow

logger = logging.getLogger(__name__)


def rule_label(execution: EscalationExecution) -> str:
    return f"escalation-rule:{execution.rule_id}"


def execution_reason(execution: EscalationExecution, detail: str) -> str:
    rule = execution.rule
    return (
        f"Rule #{rule.id} {rule.name!r} on {execution.trigger} ({execution.occurrence}) "
        f"for order {execution.order_id}: {detail}"
    )


def execution_audit_row(
    execution: EscalationExecution,
    *,
    action: str,
    detail: str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditLog:
    """An unsaved AuditLog row shaped as notifications.services.audit() writes it."""
    values = execution_audit_values(
        execution, action=action, detail=detail, before=before, after=after
    )
    return AuditLog(**values)


def execution_audit_values(
    execution: EscalationExecution,
    *,
    action: str,
    detail: str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The fields of one audit row, for `bulk.rows_insert` (a batch writes thousands at once).

    Every row targets the order and carries the execution's id in `after`,
    which is how the execution's admin page tells its story.
    """
    return {
        "actor_type": ActorType.SYSTEM,
        "actor_label": rule_label(execution),
        "action": action,
        "target_type": "order",
        "target_id": execution.order_id,
        "before": before,
        "after": {**(after or {}), "execution": execution.id, "rule": execution.rule_id},
        "reason": execution_reason(execution, detail),
    }


@dataclass
class OrderState:
    """The order as the batch has changed it so far (written at the end)."""

    row: OrderRow
    assigned_to_id: int | None
    escalation_level: int


DIGEST_LINES = 200


@dataclass
class Outcome:
    execution: EscalationExecution
    index: int
    type: str
    ok: bool
    detail: str
    before: dict[str, Any] = field(default_factory=dict)
    after: dict[str, Any] = field(default_factory=dict)


@dataclass
class Message:
    """The NOTIFY outcomes of one rule action in a batch, sent together."""

    rule: Any
    action: dict[str, Any]
    people: list[AbstractBaseUser]
    items: list[tuple[Outcome, str]]


class Batch:
    def __init__(self, *, orders: dict[str, OrderRow], now: datetime) -> None:
        self.now = now
        self.states = {
            order_id: OrderState(row, row.assigned_to_id, row.escalation_level)
            for order_id, row in orders.items()
        }
        self.outcomes: list[Outcome] = []
        self._members: dict[str, list[AbstractBaseUser]] = {}
        self._users: dict[str, AbstractBaseUser | None] = {}
        self._loads: dict[int, int] = {}  # open orders assigned, per user
        self._messages: dict[tuple, Message] = {}

    # --- planning, in memory -------------------------------------------------

    def apply(self, execution: EscalationExecution) -> None:
        state = self.states[execution.order_id]
        for index, action in enumerate(execution.rule.actions):
            handler = {REASSIGN: self._reassign, NOTIFY: self._notify, ESCALATE: self._escalate}
            self.outcomes.append(handler[action["type"]](execution, index, action, state))

    def _members_of(self, role: str) -> list[AbstractBaseUser]:
        if role not in self._members:
            members = role_members(role)
            self._members[role] = members
            missing = [user.pk for user in members if user.pk not in self._loads]
            counts = portal_orders.open_order_counts_by_assignee(missing)
            self._loads.update({user_id: counts.get(user_id, 0) for user_id in missing})
        return self._members[role]

    def _reassign(self, execution, index, action, state: OrderState) -> Outcome:
        role = action["toRole"]
        before = {"assignedToId": state.assigned_to_id}
        members = self._members_of(role)
        if not members:
            return Outcome(
                execution,
                index,
                REASSIGN,
                False,
                f"role {role!r} has no active members",
                before,
                before,
            )
        # The least-loaded member, ties by id; the batch keeps the counts current
        # so 10,000 reassignments spread like one-by-one ones would.
        chosen = min(members, key=lambda user: (self._loads[user.pk], user.pk))
        if chosen.pk != state.assigned_to_id:
            if state.assigned_to_id in self._loads:
                self._loads[state.assigned_to_id] -= 1
            self._loads[chosen.pk] += 1
        state.assigned_to_id = chosen.pk
        after = {"assignedToId": chosen.pk, "username": chosen.get_username()}
        return Outcome(
            execution,
            index,
            REASSIGN,
            True,
            f"reassigned to {chosen.get_username()} ({role})",
            before,
            after,
        )

    def _escalate(self, execution, index, action, state: OrderState) -> Outcome:
        before = {"escalationLevel": state.escalation_level}
        target = action.get("level", state.escalation_level + 1)
        state.escalation_level = max(state.escalation_level, target)
        detail = (
            f"escalation level raised to {state.escalation_level}"
            if state.escalation_level > before["escalationLevel"]
            else f"already at level {state.escalation_level} (a level is never lowered)"
        )
        return Outcome(
            execution,
            index,
            ESCALATE,
            True,
            detail,
            before,
            {"escalationLevel": state.escalation_level},
        )

    def _user(self, username: str) -> AbstractBaseUser | None:
        if username not in self._users:
            user_model = get_user_model()
            lookup = {user_model.USERNAME_FIELD: username, "is_active": True}
            self._users[username] = user_model.objects.filter(**lookup).first()
        return self._users[username]

    def _notify(self, execution, index, action, state: OrderState) -> Outcome:
        if "toRole" in action:
            target, people = f"role {action['toRole']}", self._members_of(action["toRole"])
        else:
            user = self._user(action["toUser"])
            target, people = f"user {action['toUser']}", [user] if user else []
        if not people:
            return Outcome(execution, index, NOTIFY, False, f"{target}: no active recipient")
        rule, order = execution.rule, state.row
        summary = (
            f"Order {order.id} (client {order.client_id}, package {order.package_id}, "
            f"status {order.status}, escalation level {state.escalation_level}), "
            f"{execution.trigger} {execution.occurrence}"
            + (f", context {execution.context}" if execution.context else "")
        )
        outcome = Outcome(
            execution,
            index,
            NOTIFY,
            True,
            f"notified {target}",
            {},
            {"recipients": sorted(user.get_username() for user in people)},
        )
        key = (rule.id, index, target)
        self._messages.setdefault(key, Message(rule, action, people, [])).items.append(
            (outcome, summary)
        )
        return outcome

    def _send(self, message: Message) -> None:
        """One notification per order; a digest when one batch holds many for the same action.

        In a breach storm nobody reads 5,000 separate emails, and each costs a
        dispatch task: the batch's orders for one rule action go out as one
        message per recipient, each order on its own line (the audit keeps one
        row per order).
        """
        rule, action = message.rule, message.action
        intro = [action["message"]] if action.get("message") else []
        reason = f"Rule #{rule.id} {rule.name!r} matched."
        if len(message.items) == 1:
            outcome, summary = message.items[0]
            order_id, execution = outcome.execution.order_id, outcome.execution
            title = f"Escalation: {rule.name} - order {order_id}"
            body = "\n".join([*intro, summary + ".", reason])
            dedupe = f"escalation:{execution.id}:{outcome.index}"
        else:
            ids = sorted(outcome.execution.id for outcome, _ in message.items)
            digest = hashlib.sha256(",".join(map(str, ids)).encode()).hexdigest()[:16]
            lines = [summary for _, summary in message.items[:DIGEST_LINES]]
            more = len(message.items) - len(lines)
            if more:
                lines.append(f"... and {more} more (see the rule's executions in the admin)")
            order_id = ""
            title = f"Escalation: {rule.name} - {len(message.items)} orders"
            body = "\n".join([*intro, reason, *lines])
            dedupe = f"escalation:digest:{rule.id}:{message.items[0][0].index}:{digest}"
        notify(
            title=title,
            body=body,
            recipients=message.people,
            order_id=order_id,
            level=NotificationLevel.WARNING,
            dedupe_key=dedupe,
        )
        for outcome, _ in message.items:
            outcome.after["digestOf"] = len(message.items)

    # --- writing ---------------------------------------------------------------

    def write(self) -> None:
        """Write the orders' new state, send the notifications, one audit row per action."""
        for message in self._messages.values():
            self._send(message)
        reassigned = portal_orders.orders_reassign(
            [
                (order_id, state.row.assigned_to_id, state.assigned_to_id)
                for order_id, state in self.states.items()
                if state.assigned_to_id != state.row.assigned_to_id
            ]
        )
        portal_orders.orders_raise_escalation_level(
            {
                order_id: state.escalation_level
                for order_id, state in self.states.items()
                if state.escalation_level > state.row.escalation_level
            }
        )
        for outcome in self.outcomes:
            state = self.states[outcome.execution.order_id]
            changed = state.assigned_to_id != state.row.assigned_to_id
            lost = changed and state.row.id not in reassigned
            if outcome.type == REASSIGN and outcome.ok and lost:
                # The conditional UPDATE found another assignee (or a closed order).
                outcome.ok = False
                outcome.detail = "not reassigned: the order changed meanwhile (assignee or status)"
        rows_insert(
            AuditLog,
            [
                execution_audit_values(
                    outcome.execution,
                    action=f"escalation.{outcome.type.lower()}" + ("" if outcome.ok else "_failed"),
                    detail=f"action {outcome.index + 1} {outcome.type}: {outcome.detail}",
                    before=outcome.before,
                    after={**outcome.after, "action": outcome.index + 1, "ok": outcome.ok},
                )
                for outcome in self.outcomes
            ],
        )
        for outcome in self.outcomes:
            if not outcome.ok:
                _tell_ops_managers_failed(outcome)


def _tell_ops_managers_failed(outcome: Outcome) -> None:
    execution = outcome.execution
    logger.warning(
        "escalation action failed: execution=%s rule=%s order=%s action=%s: %s",
        execution.id,
        execution.rule_id,
        execution.order_id,
        outcome.index + 1,
        outcome.detail,
    )
    notify(
        title=f"Escalation action failed: {outcome.type} for order {execution.order_id}",
        body=execution_reason(execution, f"action {outcome.index + 1}: {outcome.detail}"),
        role=OPS_MANAGER,
        level=NotificationLevel.CRITICAL,
        order_id=execution.order_id,
        dedupe_key=f"escalation:{execution.id}:{outcome.index}:failed",
    )
