"""The email for one AdminNotification: plain text and HTML, with links into the admin."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings
from django.contrib.admin.utils import quote
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse

from notifications.models import AdminNotification

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Link:
    label: str
    url: str


def _admin_url(viewname: str, object_id: str | int) -> str | None:
    # By URL name, not by import: notifications sits below portal and vendors.
    try:
        path = reverse(viewname, args=[quote(str(object_id))])
    except NoReverseMatch:
        logger.warning("no admin page %s for %s; email goes without that link", viewname, object_id)
        return None
    return f"{settings.SITE_BASE_URL}{path}"


def notification_links(notification: AdminNotification) -> list[Link]:
    """Where to act: the order and/or the vendor, else the notification itself."""
    order_id, vendor_id = notification.order_id, notification.vendor_id
    candidates: list[tuple[str, str, str | int]] = []
    if order_id:
        candidates.append((f"Order {order_id}", "admin:portal_order_change", order_id))
    if vendor_id is not None:
        candidates.append((f"Vendor {vendor_id}", "admin:vendors_vendor_change", vendor_id))
    if not candidates:
        candidates.append(
            ("Notification", "admin:notifications_adminnotification_change", notification.pk)
        )
    links = []
    for label, viewname, object_id in candidates:
        url = _admin_url(viewname, object_id)
        if url is not None:
            links.append(Link(label=label, url=url))
    return links


def _subject(title: str) -> str:
    # A newline in a header is refused by Django (BadHeaderError); titles come
    # from jobs and rules, so fold any whitespace run into one space.
    return f"{settings.EMAIL_SUBJECT_PREFIX}{' '.join(title.split())}"


def notification_email(notification: AdminNotification, to: str) -> EmailMultiAlternatives:
    context = {"notification": notification, "links": notification_links(notification)}
    message = EmailMultiAlternatives(
        subject=_subject(notification.title),
        body=render_to_string("notifications/email/notification.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[to],
    )
    message.attach_alternative(
        render_to_string("notifications/email/notification.html", context), "text/html"
    )
    return message
