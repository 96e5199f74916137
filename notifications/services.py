"""The one way to tell people things (notify) and to record what was done (audit)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction

from config.tasks import enqueue
from notifications.models import ActorType, AdminNotification, AuditLog, NotificationLevel
from notifications.roles import role_members

logger = logging.getLogger(__name__)

DISPATCH_TASK = "notifications.tasks.notification_dispatch"


def audit(
    *,
    action: str,
    target_type: str,
    target_id: str | int,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    reason: str = "",
    actor: str = "system",
    user: AbstractBaseUser | None = None,
) -> AuditLog:
    """Record one state change. `actor` names the job or rule; `user` a person, if one acted."""
    return AuditLog.objects.create(
        actor_type=ActorType.USER if user is not None else ActorType.SYSTEM,
        actor_user=user,
        actor_label=actor,
        action=action,
        target_type=target_type,
        target_id=str(target_id),
        before=before,
        after=after,
        reason=reason,
    )


def _create_once(recipient: AbstractBaseUser, dedupe_key: str, fields: dict[str, Any]):
    """Create the notification unless this recipient already has one with this key."""
    if not dedupe_key:
        return AdminNotification.objects.create(recipient=recipient, **fields)
    try:
        with transaction.atomic():
            return AdminNotification.objects.create(
                recipient=recipient, dedupe_key=dedupe_key, **fields
            )
    except IntegrityError:
        return None  # the unique (recipient, dedupe_key) constraint: already notified


def notify(
    *,
    title: str,
    body: str = "",
    recipients: Iterable[AbstractBaseUser] = (),
    role: str | None = None,
    level: str = NotificationLevel.INFO,
    order_id: str = "",
    vendor_id: int | None = None,
    dedupe_key: str = "",
) -> list[AdminNotification]:
    """One AdminNotification per recipient (the users given plus the role's members).

    Each new notification gets a notification-dispatch task (email), tied to
    the caller's transaction. With a dedupe key, a recipient who already has
    a notification under that key gets nothing new, so a job that runs twice
    notifies once. Returns the notifications created now.
    """
    people = {user.pk: user for user in recipients}
    if role:
        people.update({user.pk: user for user in role_members(role)})
    if not people:
        logger.warning("notification %r has no recipients (role=%s)", title, role)
        return []
    fields = {
        "title": title[:200],
        "body": body,
        "level": level,
        "order_id": order_id,
        "vendor_id": vendor_id,
    }
    created = []
    with transaction.atomic():
        for user in people.values():
            notification = _create_once(user, dedupe_key, fields)
            if notification is not None:
                created.append(notification)
                enqueue("notification-dispatch", DISPATCH_TASK, notification.pk)
    return created
