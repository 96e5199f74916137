from __future__ import annotations

from datetime import timedelta

import redis
from django import forms
from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import HttpRequest
from django.utils import timezone

from config.admin_helpers import ReadOnlyAdmin
from config.redis import get_redis
from vendors.health import vendor_health_sweep
from vendors.models import (
    MANUAL_STATUSES,
    Vendor,
    VendorPerformance,
    VendorRoutingRule,
    VendorStatus,
)
from vendors.probe import UnsafeURL, resolve_public_address
from vendors.services import failures_key, vendor_bring_online, vendor_status_set

BACK_TO_ACTIVE_FROM = (
    VendorStatus.MAINTENANCE,
    VendorStatus.SUSPENDED,
    VendorStatus.INACTIVE,
    VendorStatus.OFFLINE,
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

    def clean_health_check_url(self) -> str:
        url = self.cleaned_data["health_check_url"].strip()
        if url:
            try:
                resolve_public_address(url)
            except UnsafeURL as exc:
                raise forms.ValidationError(str(exc)) from exc
        return url


class RoutingRuleInline(admin.TabularInline):
    model = VendorRoutingRule
    extra = 0
    fields = ["package_type", "client_id", "priority", "is_active"]


def _with_health(vendors: QuerySet[Vendor]) -> QuerySet[Vendor]:
    """Last check and 24 h uptime as correlated subqueries: evaluated for the page's rows only."""
    since = timezone.now() - timedelta(hours=24)
    latest = VendorPerformance.objects.filter(vendor=OuterRef("pk")).order_by("-checked_at", "-id")
    recent = VendorPerformance.objects.filter(vendor=OuterRef("pk"), checked_at__gte=since)

    def count(rows: QuerySet[VendorPerformance]) -> Coalesce:
        counted = rows.order_by().values("vendor").annotate(n=Count("id")).values("n")
        return Coalesce(Subquery(counted, output_field=IntegerField()), 0)

    return vendors.annotate(
        last_checked_at=Subquery(latest.values("checked_at")[:1]),
        last_response_ms=Subquery(latest.values("response_time_ms")[:1]),
        last_ok=Subquery(latest.values("ok")[:1]),
        checks_24h=count(recent),
        ok_checks_24h=count(recent.filter(ok=True)),
    )


def _failure_counts(vendor_ids: list[int]) -> dict[int, int | None]:
    """Current consecutive-failure counts from Redis, one MGET; None if Redis is unavailable."""
    if not vendor_ids:
        return {}
    try:
        values = get_redis().mget([failures_key(v) for v in vendor_ids])
    except redis.RedisError:
        return dict.fromkeys(vendor_ids)
    return {v: int(value or 0) for v, value in zip(vendor_ids, values, strict=True)}


class VendorChangeList(ChangeList):
    def get_results(self, request: HttpRequest) -> None:
        super().get_results(request)
        counts = _failure_counts([vendor.pk for vendor in self.result_list])
        for vendor in self.result_list:
            vendor.failure_count_cached = counts.get(vendor.pk)


@admin.register(Vendor)
class VendorAdmin(admin.ModelAdmin):
    form = VendorForm
    list_display = [
        "name",
        "status",
        "health_check_url",
        "failure_count",
        "last_check",
        "last_response_time",
        "uptime_24h",
        "updated_at",
    ]
    list_filter = ["status"]
    search_fields = ["name", "health_check_url", "contact_email"]
    readonly_fields = [
        "failure_count",
        "last_check",
        "last_response_time",
        "uptime_24h",
        "created_at",
        "updated_at",
    ]
    inlines = [RoutingRuleInline]
    actions = ["check_now", "put_in_maintenance", "back_to_active"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Vendor]:
        return _with_health(super().get_queryset(request))

    def save_model(
        self, request: HttpRequest, obj: Vendor, form: forms.ModelForm, change: bool
    ) -> None:
        """A status change made in the form goes through the same service as the actions:
        conditional on the status the form was opened with, audited, published."""
        if not (change and "status" in form.changed_data):
            super().save_model(request, obj, form, change)
            return
        wanted, opened_with = obj.status, form.initial["status"]
        obj.status = opened_with  # saved below, through the service
        super().save_model(request, obj, form, change)
        moved = vendor_status_set(
            vendor_id=obj.pk,
            status=wanted,
            from_statuses=[opened_with],
            reason=f"changed in the admin by {request.user}",
            user=request.user,
        )
        if moved:
            obj.status = wanted
        else:
            self.message_user(
                request,
                f"{obj.name}'s status changed meanwhile; it was left as it is now.",
                messages.WARNING,
            )

    def get_changelist(self, request: HttpRequest, **kwargs: object) -> type[ChangeList]:
        return VendorChangeList

    @admin.display(description="consecutive failures")
    def failure_count(self, vendor: Vendor) -> str:
        if not hasattr(vendor, "failure_count_cached"):  # the change page: one vendor
            vendor.failure_count_cached = _failure_counts([vendor.pk]).get(vendor.pk)
        count = vendor.failure_count_cached
        return "unavailable (Redis)" if count is None else str(count)

    @admin.display(description="last check", ordering="last_checked_at")
    def last_check(self, vendor: Vendor) -> str:
        checked = getattr(vendor, "last_checked_at", None)
        if checked is None:
            return "never"
        outcome = "ok" if vendor.last_ok else "failed"
        return f"{timezone.localtime(checked):%Y-%m-%d %H:%M:%S} ({outcome})"

    @admin.display(description="last response time")
    def last_response_time(self, vendor: Vendor) -> str:
        ms = getattr(vendor, "last_response_ms", None)
        return "-" if ms is None else f"{ms} ms"

    @admin.display(description="uptime 24 h")
    def uptime_24h(self, vendor: Vendor) -> str:
        checks = getattr(vendor, "checks_24h", 0)
        if not checks:
            return "no checks"
        return f"{100 * vendor.ok_checks_24h / checks:.1f} % of {checks}"

    @admin.action(description="Check now (probe the selected vendors)")
    def check_now(self, request: HttpRequest, queryset: QuerySet[Vendor]) -> None:
        vendors = {v.pk: v.name for v in queryset.only("id", "name")}
        report = vendor_health_sweep(vendor_ids=list(vendors), statuses=None)
        probed = {r.vendor_id for r in report.results}
        for result in report.results:
            name = vendors[result.vendor_id]
            if result.ok:
                text = f"{name}: OK, HTTP {result.status_code} in {result.response_time_ms} ms."
                level = messages.SUCCESS
            else:
                failures = report.failures.get(result.vendor_id, "?")
                text = f"{name}: failed ({result.error}); consecutive failures: {failures}."
                level = messages.WARNING
            if result.vendor_id in report.taken_offline:
                text += " Taken offline; its orders were failed over."
            if result.vendor_id in report.brought_online:
                text += " Back to active."
            self.message_user(request, text, level)
        for vendor_id in sorted(set(vendors) - probed):
            self.message_user(
                request, f"{vendors[vendor_id]}: no health check URL, not checked.", messages.INFO
            )

    @admin.action(description="Put in maintenance")
    def put_in_maintenance(self, request: HttpRequest, queryset: QuerySet[Vendor]) -> None:
        changed = [
            v.name
            for v in queryset.only("id", "name")
            if vendor_status_set(
                vendor_id=v.pk,
                status=VendorStatus.MAINTENANCE,
                from_statuses=[s for s in VendorStatus.values if s != VendorStatus.MAINTENANCE],
                reason=f"put in maintenance by {request.user}",
                user=request.user,
            )
        ]
        self._report(request, changed, queryset.count(), "in maintenance")

    @admin.action(description="Back to active")
    def back_to_active(self, request: HttpRequest, queryset: QuerySet[Vendor]) -> None:
        changed = [
            v.name
            for v in queryset.only("id", "name")
            if vendor_bring_online(
                vendor_id=v.pk,
                reason=f"set back to active by {request.user}",
                user=request.user,
                from_statuses=BACK_TO_ACTIVE_FROM,
            )
        ]
        self._report(request, changed, queryset.count(), "active")

    def _report(self, request: HttpRequest, changed: list[str], selected: int, what: str) -> None:
        if changed:
            self.message_user(request, f"Now {what}: {', '.join(changed)}.", messages.SUCCESS)
        if len(changed) < selected:
            self.message_user(
                request,
                f"{selected - len(changed)} vendor(s) left unchanged (already {what}).",
                messages.INFO,
            )


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
