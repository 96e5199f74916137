from __future__ import annotations

from django import forms
from django.contrib import admin

from config.admin_helpers import ReadOnlyAdmin
from vendors.models import (
    MANUAL_STATUSES,
    Vendor,
    VendorPerformance,
    VendorRoutingRule,
    VendorStatus,
)


class VendorForm(forms.ModelForm):
    class Meta:
        model = Vendor
        fields = ["name", "status", "health_check_url", "contact_email"]

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        # `offline` belongs to the health checks: a person can move a vendor
        # out of it (to maintenance, say) but never into it.
        if self.instance.status != VendorStatus.OFFLINE:
            self.fields["status"].choices = MANUAL_STATUSES


class RoutingRuleInline(admin.TabularInline):
    model = VendorRoutingRule
    extra = 0
    fields = ["package_type", "client_id", "priority", "is_active"]


@admin.register(Vendor)
class VendorAdmin(admin.ModelAdmin):
    form = VendorForm
    list_display = ["name", "status", "health_check_url", "contact_email", "updated_at"]
    list_filter = ["status"]
    search_fields = ["name", "health_check_url", "contact_email"]
    readonly_fields = ["created_at", "updated_at"]
    inlines = [RoutingRuleInline]


@admin.register(VendorRoutingRule)
class VendorRoutingRuleAdmin(admin.ModelAdmin):
    list_display = ["vendor", "package_type", "client_id", "priority", "is_active"]
    list_filter = ["is_active", "package_type", "vendor"]
    search_fields = ["vendor__name", "package_type", "client_id"]
    list_select_related = ["vendor"]
    autocomplete_fields = ["vendor"]


@admin.register(VendorPerformance)
class VendorPerformanceAdmin(ReadOnlyAdmin):
    list_display = ["vendor", "checked_at", "ok", "status_code", "response_time_ms", "error"]
    list_filter = ["ok", "vendor"]
    search_fields = ["vendor__name", "error"]
    date_hierarchy = "checked_at"
    list_select_related = ["vendor"]
