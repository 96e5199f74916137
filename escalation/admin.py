from __future__ import annotations

from django.contrib import admin

from escalation.models import EscalationRule


@admin.register(EscalationRule)
class EscalationRuleAdmin(admin.ModelAdmin):
    list_display = ["name", "trigger_type", "priority", "delay_minutes", "is_active", "updated_at"]
    list_filter = ["trigger_type", "is_active"]
    search_fields = ["name"]
    readonly_fields = ["created_at", "updated_at"]
