from __future__ import annotations

from django.contrib import admin
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from config.admin_helpers import ReadOnlyAdmin, timestamp_set_filter
from sla.models import SLAAlert, SLAConfig


@admin.register(SLAConfig)
class SLAConfigAdmin(admin.ModelAdmin):
    """A second config for the same scope (or a second default) is refused by the form:
    the model's UniqueConstraint is validated there and shows its violation_error_message."""

    list_display = ["__str__", "client_id", "package_id", "target_minutes", "warning_percent",
                    "is_active"]  # fmt: skip
    list_filter = ["is_active"]
    search_fields = ["client_id", "package_id"]


ResolvedFilter = timestamp_set_filter(
    "resolved_at", title="resolved", unset_label="Open", set_label="Resolved"
)


@admin.register(SLAAlert)
class SLAAlertAdmin(ReadOnlyAdmin):
    list_display = ["order_link", "type", "client_id", "package_id", "target", "lateness",
                    "created_at", "resolved_at"]  # fmt: skip
    list_filter = ["type", ResolvedFilter, "client_id"]
    search_fields = ["order_id", "client_id"]
    date_hierarchy = "created_at"

    @admin.display(description="order", ordering="order_id")
    def order_link(self, alert: SLAAlert) -> str:
        url = reverse("admin:portal_order_change", args=[alert.order_id])
        return format_html('<a href="{}">{}</a>', url, alert.order_id)

    @admin.display(description="target", ordering="target_minutes")
    def target(self, alert: SLAAlert) -> str:
        return f"{alert.target_minutes} min" if alert.target_minutes else "-"

    @admin.display(description="late by")
    def lateness(self, alert: SLAAlert) -> str:
        """Minutes past the target: now for an open alert, at resolution for a resolved one."""
        if not alert.target_minutes or alert.order_created_at is None:
            return "-"
        until = alert.resolved_at or timezone.now()
        late = int((until - alert.order_created_at).total_seconds() // 60) - alert.target_minutes
        if late >= 0:
            return f"{late} min late"
        return f"{-late} min left"
