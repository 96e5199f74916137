from __future__ import annotations

from django.contrib import admin

from config.admin_helpers import ReadOnlyAdmin
from portal.models import Client, Order


@admin.register(Client)
class ClientAdmin(ReadOnlyAdmin):
    list_display = ["id", "name", "tier", "created_at"]
    list_filter = ["tier"]
    search_fields = ["id", "name"]


@admin.register(Order)
class OrderAdmin(ReadOnlyAdmin):
    list_display = [
        "id", "client_id", "package_type", "package_id", "status", "vendor_id",
        "assigned_to_id", "escalation_level", "created_at", "updated_at",
    ]  # fmt: skip
    list_filter = ["status", "package_type", "escalation_level"]
    search_fields = ["id", "client_id", "package_id"]
    date_hierarchy = "created_at"
    show_full_result_count = False  # COUNT(*) over a large orders table is slow
