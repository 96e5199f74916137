from __future__ import annotations

from django.contrib import admin

from config.admin_helpers import ReadOnlyAdmin
from notifications.models import AdminNotification, AuditLog


@admin.register(AdminNotification)
class AdminNotificationAdmin(admin.ModelAdmin):
    list_display = ["title", "recipient", "level", "order_id", "created_at", "read_at"]
    list_filter = ["level", ("read_at", admin.EmptyFieldListFilter), "recipient"]
    search_fields = ["title", "body", "order_id", "recipient__username"]
    readonly_fields = ["created_at"]
    date_hierarchy = "created_at"
    list_select_related = ["recipient"]


@admin.register(AuditLog)
class AuditLogAdmin(ReadOnlyAdmin):
    list_display = [
        "created_at", "actor_type", "actor_label", "actor_user", "action", "target_type",
        "target_id", "reason",
    ]  # fmt: skip
    list_filter = ["actor_type", "action", "target_type"]
    search_fields = ["target_id", "action", "reason", "actor_label"]
    date_hierarchy = "created_at"
    list_select_related = ["actor_user"]
