"""The admin index's "you have N unread notifications" line, for the user viewing it."""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import reverse
from django.utils.http import urlencode

from notifications.models import AdminNotification

register = template.Library()


@register.inclusion_tag("notifications/unread_notifications.html", takes_context=True)
def unread_notifications(context: dict[str, Any]) -> dict[str, Any]:
    user = context["request"].user
    count = AdminNotification.objects.filter(recipient=user, read_at__isnull=True).count()
    url = None
    if user.has_perm("notifications.view_adminnotification"):
        # The changelist's own filters: this user's, unread.
        query = urlencode({"recipient__id__exact": user.pk, "read": "no"})
        url = f"{reverse('admin:notifications_adminnotification_changelist')}?{query}"
    return {"count": count, "url": url}
