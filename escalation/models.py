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
