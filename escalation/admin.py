from __future__ import annotations

import uuid

from django.contrib import admin, messages
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode

from config.admin_helpers import ReadOnlyAdmin
from config.tasks import enqueue
from escalation.forms import EscalationRuleForm
from escalation.models import EscalationExecution, EscalationRule, ExecutionStatus, TriggerType
from escalation.services import executions_run_now
from notifications.models import AuditLog
from sla.admin import SLAAlertAdmin
from sla.models import SLAAlert


@admin.register(EscalationRule)
class EscalationRuleAdmin(admin.ModelAdmin):
    form = EscalationRuleForm
    list_display = [
        "name",
        "trigger_type",
        "priority",
        "delay_minutes",
        "is_active",
        "execution_count",
        "updated_at",
    ]
    list_filter = ["trigger_type", "is_active"]
    search_fields = ["name"]
    readonly_fields = ["created_at", "updated_at"]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).annotate(execution_total=Count("executions"))

    @admin.display(description="executions", ordering="execution_total")
    def execution_count(self, rule: EscalationRule) -> str:
        url = reverse("admin:escalation_escalationexecution_changelist")
        return format_html(
            '<a href="{}?{}">{}</a>',
            url,
            urlencode({"rule__id__exact": rule.pk}),
            rule.execution_total,
        )


def audit_story(execution: EscalationExecution) -> QuerySet:
    """The audit rows of one execution, oldest first (each carries its id in `after`)."""
    return AuditLog.objects.filter(
        target_type="order", target_id=execution.order_id, after__execution=execution.pk
    ).order_by("created_at", "id")


@admin.register(EscalationExecution)
class EscalationExecutionAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "rule",
        "order_id",
        "trigger",
        "status",
        "due_at",
        "attempts",
        "finished_at",
    ]
    list_filter = ["status", "trigger", "rule"]
    search_fields = ["order_id", "occurrence"]
    date_hierarchy = "due_at"
    list_select_related = ["rule"]
    actions = ["run_now"]
    fields = [
        "rule",
        "order_id",
        "trigger",
        "occurrence",
        "context",
        "status",
        "due_at",
        "attempts",
        "created_at",
        "started_at",
        "finished_at",
        "error",
        "story",
    ]
    readonly_fields = fields

    def has_run_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("escalation.change_escalationexecution")

    @admin.action(description="Run now (pending only)", permissions=["run"])
    def run_now(self, request: HttpRequest, queryset: QuerySet) -> None:
        ids = list(queryset.filter(status=ExecutionStatus.PENDING).values_list("id", flat=True))
        ran = executions_run_now(execution_ids=ids)
        skipped = queryset.count() - ran
        self.message_user(request, f"Ran {ran} execution(s); {skipped} were not pending.")

    @admin.display(description="what happened")
    def story(self, execution: EscalationExecution) -> str:
        """The execution as a story: triggered, scheduled, each action, the end."""
        first = format_html(
            "<li>{}: {} ({}) matched rule #{} {}; due {}</li>",
            execution.created_at,
            execution.trigger,
            execution.occurrence,
            execution.rule_id,
            execution.rule.name,
            execution.due_at,
        )
        steps = format_html_join(
            "",
            "<li>{}: <b>{}</b> {}</li>",
            ((row.created_at, row.action, row.reason) for row in audit_story(execution)),
        )
        audit_url = reverse("admin:notifications_auditlog_changelist")
        link = urlencode({"target_type": "order", "target_id": execution.order_id})
        return format_html(
            '<ol>{}{}</ol><a href="{}?{}">Every audit row of order {}</a>',
            first,
            steps,
            audit_url,
            link,
            execution.order_id,
        )


# The SLA alerts admin gets an "escalate now" action. Subclassing the SLA app's
# admin and registering it again keeps sla/ free of any escalation import (the
# import direction is escalation -> sla) and uses only public admin API, unlike
# appending to admin.site._registry[SLAAlert].actions. Importing sla.admin
# first guarantees SLAAlert is registered before it is replaced.


@admin.action(description="Escalate now (run the MANUAL rules for these orders)")
def escalate_now(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet) -> None:
    first_alert_per_order: dict[str, SLAAlert] = {}
    for alert in queryset.order_by("id"):
        first_alert_per_order.setdefault(alert.order_id, alert)
    for alert in first_alert_per_order.values():
        context = {"requestedBy": request.user.get_username(), "slaAlertId": alert.pk}
        enqueue(
            "auto-escalation",
            "escalation.tasks.auto_escalate",
            alert.order_id,
            TriggerType.MANUAL,
            f"manual:{uuid.uuid4()}",
            context,
        )
    modeladmin.message_user(
        request, f"Escalation queued for {len(first_alert_per_order)} order(s).", messages.SUCCESS
    )


class SLAAlertEscalationAdmin(SLAAlertAdmin):
    actions = [*(SLAAlertAdmin.actions or []), escalate_now]


admin.site.unregister(SLAAlert)
admin.site.register(SLAAlert, SLAAlertEscalationAdmin)
