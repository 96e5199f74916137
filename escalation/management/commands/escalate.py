"""python manage.py escalate ORDER_ID: run the MANUAL escalation rules for one order, now."""

from __future__ import annotations

import uuid

from django.core.management.base import BaseCommand, CommandError

from escalation.models import EscalationExecution, TriggerType
from escalation.services import escalation_trigger
from portal.orders import get_order


class Command(BaseCommand):
    help = "Run the active MANUAL escalation rules that match ORDER_ID, now (delayed ones later)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("order_id")
        parser.add_argument("--reason", default="", help="Why, kept in the trigger's context.")

    def handle(self, *args, order_id: str, reason: str, **options) -> None:
        order = get_order(order_id)
        if order is None:
            raise CommandError(f"no order {order_id!r}")
        if order.is_closed:
            raise CommandError(f"order {order_id} is closed ({order.status}); nothing to escalate")
        occurrence = f"manual:{uuid.uuid4()}"
        context = {"requestedBy": "manage.py escalate", **({"reason": reason} if reason else {})}
        summary = escalation_trigger(
            order_id=order_id, trigger=TriggerType.MANUAL, occurrence=occurrence, context=context
        )
        if not summary["matched"]:
            self.stdout.write(f"No active MANUAL rule matches order {order_id}.")
            return
        for execution in EscalationExecution.objects.filter(
            order_id=order_id, occurrence=occurrence
        ).select_related("rule"):
            detail = execution.error or ", ".join(r["detail"] for r in execution.result or [])
            pending = execution.status == "pending"
            when = f" due {execution.due_at:%Y-%m-%d %H:%M}" if pending else ""
            self.stdout.write(f"{execution.rule}: {execution.status}{when} {detail}".rstrip())
