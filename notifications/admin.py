from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from config.admin_helpers import ReadOnlyAdmin, timestamp_set_filter
from notifications.models import AdminNotification, AuditLog
from notifications.services import notification_mark_read, notification_resend

ReadListFilter = timestamp_set_filter(
    "read_at", title="read", unset_label="Unread", set_label="Read"
)


@admin.register(AdminNotification)
class AdminNotificationAdmin(admin.ModelAdmin):
    list_display = [
        "title", "recipient", "level", "order_id", "vendor_id", "created_at", "read_at",
        "email_status", "email_attempts", "email_sent_at",
    ]  # fmt: skip
    list_filter = [
        ("recipient", admin.RelatedOnlyFieldListFilter),
        ReadListFilter,
        "email_status",  # sent, failed, ...
        "level",
    ]
    search_fields = ["title", "body", "order_id", "recipient__username"]
    readonly_fields = [
        "created_at", "dedupe_key", "email_status", "email_attempts", "email_next_attempt_at",
        "email_claimed_at", "email_sent_at", "email_last_error",
    ]  # fmt: skip
    date_hierarchy = "created_at"
    list_select_related = ["recipient"]
    actions = ["mark_read", "resend_email"]

    @admin.action(description="Mark as read", permissions=["change"])
    def mark_read(self, request: HttpRequest, queryset: QuerySet) -> None:
        count = notification_mark_read(notification_ids=queryset.values_list("pk", flat=True))
        self.message_user(request, f"{count} notification(s) marked as read.")

    @admin.action(description="Resend email", permissions=["change"])
    def resend_email(self, request: HttpRequest, queryset: QuerySet) -> None:
        ids = list(queryset.values_list("pk", flat=True))
        resent = notification_resend(notification_ids=ids, user=request.user)
        self.message_user(request, f"{len(resent)} email(s) queued again.")
        if len(resent) < len(ids):
            self.message_user(
                request,
                f"{len(ids) - len(resent)} skipped: still pending or being sent.",
                level=messages.WARNING,
            )


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
