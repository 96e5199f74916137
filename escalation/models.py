from __future__ import annotations

from django.db import models


class TriggerType(models.TextChoices):
    SLA_BREACH = "SLA_BREACH", "SLA breach"
    VENDOR_OFFLINE = "VENDOR_OFFLINE", "Vendor offline"
    EXCEPTION_UNRESOLVED = "EXCEPTION_UNRESOLVED", "Exception unresolved"
    MANUAL = "MANUAL", "Manual"


class EscalationRule(models.Model):
    """An ops manager's rule: when a trigger fires for a matching order, apply the actions."""

    name = models.CharField(max_length=200)
    trigger_type = models.CharField(max_length=30, choices=TriggerType.choices, db_index=True)
    conditions = models.JSONField(default=dict, blank=True)
    actions = models.JSONField(default=list)
    delay_minutes = models.PositiveIntegerField(default=0)
    priority = models.PositiveIntegerField(default=1, help_text="Lower numbers run first.")
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["trigger_type", "priority", "id"]

    def __str__(self) -> str:
        return self.name


class ExecutionStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class EscalationExecution(models.Model):
    """One rule firing for one order on one trigger occurrence: due, then run once.

    The unique (rule, order, occurrence) makes a repeated trigger create
    nothing new; the status moves pending -> running -> done/failed only by
    conditional updates, so two clusters never run one twice.
    """

    # PROTECT: executions are the history of what a rule did; deactivate a
    # rule instead of deleting it.
    rule = models.ForeignKey(EscalationRule, on_delete=models.PROTECT, related_name="executions")
    order_id = models.CharField(max_length=64, db_index=True)
    trigger = models.CharField(max_length=30, choices=TriggerType.choices)
    occurrence = models.CharField(
        max_length=200, help_text="Which firing of the trigger, e.g. sla-alert:42."
    )
    context = models.JSONField(default=dict, blank=True)
    due_at = models.DateTimeField()
    status = models.CharField(
        max_length=10, choices=ExecutionStatus.choices, default=ExecutionStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    result = models.JSONField(null=True, blank=True, help_text="The outcome of each action.")
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "due_at"], name="escalation_exec_due")]
        constraints = [
            models.UniqueConstraint(
                fields=["rule", "order_id", "occurrence"], name="escalation_exec_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.rule} on order {self.order_id} ({self.status})"
