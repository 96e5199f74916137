"""django-q2 entry points for notifications (thin: ids in, services do the work)."""

from __future__ import annotations

import logging

from notifications.dispatch import notification_send, notifications_send, notifications_send_due

logger = logging.getLogger(__name__)


def notification_dispatch(notification_id: int) -> None:
    """Job notification-dispatch: email one AdminNotification (queued by notify() and resend).

    Touches that one row's email_* fields. Safe to run twice or at once with
    another worker: it sends only after winning a conditional UPDATE claim, and
    a sent, failed, skipped or not-yet-due notification is left alone.
    """
    outcome = notification_send(notification_id=notification_id)
    logger.info("notification-dispatch %s: %s", notification_id, outcome)


def notification_dispatch_batch(notification_ids: list[int]) -> None:
    """Job notification-dispatch for many notifications (queued by notify_many).

    One task instead of one per notification: a scan that warns about
    thousands of orders enqueues tens of tasks, not thousands. Each row is
    still claimed on its own, so it is as safe to run twice as
    notification_dispatch; what it has no time for is left to notification-retry.
    """
    counts = notifications_send(notification_ids, job="notification-dispatch")
    logger.info("notification-dispatch of %d: %s", len(notification_ids), counts)


def notification_retry() -> None:
    """Job notification-retry (periodic): send the notification emails that are due.

    Picks up retries whose backoff has passed, notifications whose dispatch
    task was lost, and claims left by a worker that died mid-send. Safe to run
    twice at once: every row is claimed by a conditional UPDATE before it is
    sent, so concurrent runs split the rows between them.
    """
    counts = notifications_send_due()
    logger.info("notification-retry: %s", counts)
