"""The one way to tell people things (notify) and to record what was done (audit)."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone

from config.tasks import enqueue
from notifications.models import (
    ActorType,
    AdminNotification,
    AuditLog,
    EmailStatus,
    NotificationLevel,
)
from notifications.roles import role_members

logger = logging.getLogger(__name__)

DISPATCH_TASK = "notifications.tasks.notification_dispatch"
DISPATCH_BATCH_TASK = "notifications.tasks.notification_dispatch_batch"
DISPATCH_BATCH = 100  # notifications per dispatch task from notify_many


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
    return _save_once(AdminNotification(recipient=recipient, dedupe_key=dedupe_key, **fields))


def _save_once(notification: AdminNotification) -> AdminNotification | None:
    """Insert an unsaved notification unless its (recipient, dedupe_key) already exists."""
    if not notification.dedupe_key:
        notification.save(force_insert=True)
        return notification
    try:
        with transaction.atomic():
            notification.save(force_insert=True)
            return notification
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


@dataclass(frozen=True)
class Notice:
    """One message for notify_many(): notify()'s arguments, recipients given as users."""

    title: str
    recipients: Sequence[AbstractBaseUser]
    body: str = ""
    level: str = NotificationLevel.INFO
    order_id: str = ""
    vendor_id: int | None = None
    dedupe_key: str = ""


# (recipient, dedupe_key) pairs looked up per query; below SQLite's parameter limit.
_LOOKUP_CHUNK = 500


def notify_many(notices: Iterable[Notice]) -> list[AdminNotification]:
    """notify() for many messages: the same rows, dedupe and dispatch tasks, fewer statements.

    Pairs (recipient, dedupe_key) that already exist, or repeat within the
    call, are skipped; the rest are inserted in bulk in a savepoint. If a
    concurrent caller inserted one of them in between (the unique constraint
    refuses the bulk insert), they are inserted one by one as notify() does,
    so each person still gets one notification per key. The new ones are
    emailed by notification-dispatch tasks of DISPATCH_BATCH each, queued in
    the caller's transaction. Returns the notifications created now.
    """
    rows = _notification_rows(notices)
    existing = _existing_pairs({row.dedupe_key for row in rows if row.dedupe_key})
    fresh: list[AdminNotification] = []
    for row in rows:
        pair = (row.recipient_id, row.dedupe_key)
        if row.dedupe_key and pair in existing:
            continue
        existing.add(pair)
        fresh.append(row)
    if not fresh:
        return []
    with transaction.atomic():
        try:
            with transaction.atomic():
                created = AdminNotification.objects.bulk_create(fresh, batch_size=1000)
        except IntegrityError:
            created = [row for row in fresh if _save_once(_unsaved(row)) is not None]
        ids = [notification.pk for notification in created]
        for start in range(0, len(ids), DISPATCH_BATCH):
            enqueue(
                "notification-dispatch", DISPATCH_BATCH_TASK, ids[start : start + DISPATCH_BATCH]
            )
    return created


def _notification_rows(notices: Iterable[Notice]) -> list[AdminNotification]:
    rows = []
    for notice in notices:
        people = {user.pk: user for user in notice.recipients}
        if not people:
            logger.warning("notification %r has no recipients", notice.title)
        rows.extend(
            AdminNotification(
                recipient=user,
                title=notice.title[:200],
                body=notice.body,
                level=notice.level,
                order_id=notice.order_id,
                vendor_id=notice.vendor_id,
                dedupe_key=notice.dedupe_key,
            )
            for user in people.values()
        )
    return rows


def _existing_pairs(keys: set[str]) -> set[tuple[int, str]]:
    """The (recipient id, dedupe key) pairs already notified, among these keys."""
    ordered = sorted(keys)
    pairs: set[tuple[int, str]] = set()
    for start in range(0, len(ordered), _LOOKUP_CHUNK):
        chunk = ordered[start : start + _LOOKUP_CHUNK]
        pairs.update(
            AdminNotification.objects.filter(dedupe_key__in=chunk).values_list(
                "recipient_id", "dedupe_key"
            )
        )
    return pairs


def _unsaved(row: AdminNotification) -> AdminNotification:
    """The row again without the pk a failed bulk insert may have left on it."""
    row.pk = None
    row._state.adding = True
    return row


RESENDABLE = (EmailStatus.SENT, EmailStatus.FAILED, EmailStatus.SKIPPED)


def notification_resend(
    *, notification_ids: Iterable[int], user: AbstractBaseUser | None = None
) -> list[int]:
    """Queue the email of each finished notification again, with a fresh set of attempts.

    Pending and sending ones are skipped: they are already on their way, and
    resetting them would let a second worker send beside the first. Each
    resend is audited (a person asked for it). Returns the ids re-queued.
    """
    resent = []
    for notification_id in notification_ids:
        with transaction.atomic():
            # Locked so the audit's "before" is the state actually replaced.
            row = (
                AdminNotification.objects.select_for_update()
                .filter(pk=notification_id, email_status__in=RESENDABLE)
                .values("email_status", "email_attempts", "email_sent_at", "email_last_error")
                .first()
            )
            if row is None:
                continue
            AdminNotification.objects.filter(pk=notification_id).update(
                email_status=EmailStatus.PENDING,
                email_attempts=0,
                email_next_attempt_at=timezone.now(),
                email_claimed_at=None,
                email_sent_at=None,
                email_last_error="",
            )
            audit(
                action="notification.email_resent",
                target_type="notification",
                target_id=notification_id,
                before={**row, "email_sent_at": _iso(row["email_sent_at"])},
                after={"email_status": EmailStatus.PENDING, "email_attempts": 0},
                reason="resend requested in the admin",
                actor="admin",
                user=user,
            )
            enqueue("notification-dispatch", DISPATCH_TASK, notification_id)
        resent.append(notification_id)
    return resent


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def notification_mark_read(*, notification_ids: Iterable[int]) -> int:
    """Mark unread notifications read now; already-read ones keep their first read time."""
    return AdminNotification.objects.filter(
        pk__in=list(notification_ids), read_at__isnull=True
    ).update(read_at=timezone.now())
