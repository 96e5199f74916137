from __future__ import annotations

from django.contrib import admin

from config.admin_helpers import ReadOnlyAdmin
from portal.models import Client, Order, OrderSeen, OutboxEvent, RejectedEvent


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


@admin.register(RejectedEvent)
class RejectedEventAdmin(ReadOnlyAdmin):
    """Inbound messages that were malformed or whose handler raised, for review."""

    list_display = [
        "received_at", "channel", "reason", "order_id", "handler", "raw_size", "short_raw",
    ]  # fmt: skip
    list_filter = ["reason", "channel", "handler", "received_at"]
    search_fields = ["order_id", "raw", "detail"]
    date_hierarchy = "received_at"
    readonly_fields = [
        "received_at", "channel", "reason", "order_id", "handler", "raw_size", "raw", "detail",
    ]  # fmt: skip
    fields = readonly_fields

    @admin.display(description="raw")
    def short_raw(self, obj: RejectedEvent) -> str:
        return obj.raw if len(obj.raw) <= 80 else obj.raw[:77] + "..."


@admin.register(OutboxEvent)
class OutboxEventAdmin(ReadOnlyAdmin):
    list_display = ["id", "channel", "event_id", "created_at", "published_at", "attempts"]
    list_filter = ["channel", ("published_at", admin.EmptyFieldListFilter)]
    search_fields = ["event_id", "payload"]
    date_hierarchy = "created_at"


@admin.register(OrderSeen)
class OrderSeenAdmin(ReadOnlyAdmin):
    list_display = ["order_id", "status", "seen_at", "event_id"]
    list_filter = ["status"]
    search_fields = ["order_id"]
