from __future__ import annotations

from django.contrib import admin

from config.admin_helpers import ReadOnlyAdmin
from sla.models import SLAAlert, SLAConfig


@admin.register(SLAConfig)
class SLAConfigAdmin(admin.ModelAdmin):
    list_display = ["__str__", "client_id", "package_id", "target_minutes", "warning_percent",
                    "is_active"]  # fmt: skip
    list_filter = ["is_active"]
    search_fields = ["client_id", "package_id"]


@admin.register(SLAAlert)
class SLAAlertAdmin(ReadOnlyAdmin):
    list_display = ["order_id", "type", "client_id", "target_minutes", "created_at", "resolved_at"]
    list_filter = ["type", ("resolved_at", admin.EmptyFieldListFilter)]
    search_fields = ["order_id", "client_id"]
    date_hierarchy = "created_at"
