"""Emailing AdminNotifications: claim, send, record; retry with backoff; give up visibly.

States (AdminNotification.email_status): pending -> sending -> sent | failed |
skipped, and a failed try goes back to pending with a later
email_next_attempt_at. Every transition is a conditional UPDATE, so two
workers (or a dispatch task and the retry sweep) never send the same email:
only the one whose UPDATE matched the row holds the claim, and only the holder
of a claim (identified by its email_claimed_at) may record the outcome.

A worker that dies between claiming and recording (killed at the task
timeout, machine lost) leaves the row in `sending`. We chose AT LEAST ONCE:
once the claim is older than NOTIFICATION_CLAIM_TIMEOUT_SECONDS (longer than
any task may live) the retry sweep takes it over and sends again, counting it
as an attempt. Why: these emails are operational alerts (SLA breaches, vendors
offline); a duplicate costs a reader a second, a lost one can cost a missed
breach. The duplicate needs the crash to fall in the short gap after the mail
server accepted the message and before the sent row committed (SMTP itself
has the same gap); most deaths happen while waiting on the server, where
nothing was delivered yet. A notification that keeps killing its worker still
stops after NOTIFICATION_MAX_ATTEMPTS, marked failed.
"""

from __future__ import annotations

import logging
import smtplib
import time
from datetime import datetime, timedelta
from enum import StrEnum

from anymail.exceptions import AnymailInvalidAddress, AnymailRecipientsRefused
from django.conf import settings
from django.core.mail import BadHeaderError
from django.db.models import F, Q
from django.utils import timezone

from notifications.emails import notification_email
from notifications.models import AdminNotification, EmailStatus

logger = logging.getLogger(__name__)

ERROR_MAX_CHARS = 2000
ABANDONED_ERROR = (
    "the worker stopped while sending the last attempt (delivery unknown) and no attempts are left"
)


class Outcome(StrEnum):
    SENT = "sent"
    RETRY = "retry"
    FAILED = "failed"
    SKIPPED = "skipped"
    NOT_CLAIMED = "not-claimed"  # someone else has it, it is not due, or it is done


def _claimable(now: datetime) -> Q:
    """Due pending rows, and rows whose claim outlived any worker that could hold it."""
    stale_before = now - timedelta(seconds=settings.NOTIFICATION_CLAIM_TIMEOUT_SECONDS)
    return Q(email_status=EmailStatus.PENDING, email_next_attempt_at__lte=now) | Q(
        email_status=EmailStatus.SENDING,
        email_claimed_at__lt=stale_before,
        email_attempts__lt=settings.NOTIFICATION_MAX_ATTEMPTS,
    )


def _claim(notification_id: int) -> datetime | None:
    """Take the row for one send attempt; the claim time is the token of this attempt."""
    now = timezone.now()
    claimed = AdminNotification.objects.filter(_claimable(now), pk=notification_id).update(
        email_status=EmailStatus.SENDING,
        email_claimed_at=now,
        email_attempts=F("email_attempts") + 1,
    )
    return now if claimed == 1 else None


def _finish(notification_id: int, claimed_at: datetime, **fields: object) -> bool:
    """Record an outcome, only while this attempt still holds the claim."""
    updated = AdminNotification.objects.filter(
        pk=notification_id, email_status=EmailStatus.SENDING, email_claimed_at=claimed_at
    ).update(email_claimed_at=None, **fields)
    if not updated:
        logger.warning(
            "notification %s: claim of %s was taken over; outcome %s not recorded",
            notification_id,
            claimed_at.isoformat(),
            fields.get("email_status"),
        )
    return bool(updated)


def retry_delay(attempts: int) -> timedelta:
    """Wait after the `attempts`-th failure: the base, doubled each time, capped."""
    seconds = settings.NOTIFICATION_RETRY_BACKOFF_SECONDS * 2 ** max(attempts - 1, 0)
    return timedelta(seconds=min(seconds, settings.NOTIFICATION_RETRY_BACKOFF_MAX_SECONDS))


def is_permanent(exc: Exception) -> bool:
    """True when sending again cannot help (the address or the message is refused)."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        # 4xx (greylisting, mailbox busy) may pass later; 5xx will not.
        return all(code >= 500 for code, _ in exc.recipients.values())
    return isinstance(exc, AnymailRecipientsRefused | AnymailInvalidAddress | BadHeaderError)


def _record_failure(
    notification: AdminNotification, claimed_at: datetime, exc: Exception
) -> Outcome:
    attempts = notification.email_attempts
    error = f"{type(exc).__name__}: {exc}"[:ERROR_MAX_CHARS]
    if is_permanent(exc) or attempts >= settings.NOTIFICATION_MAX_ATTEMPTS:
        _finish(
            notification.pk, claimed_at, email_status=EmailStatus.FAILED, email_last_error=error
        )
        logger.error(
            "notification %s to %s: email failed for good after %d attempt(s): %s",
            notification.pk,
            notification.recipient_id,
            attempts,
            error,
        )
        return Outcome.FAILED
    next_attempt_at = timezone.now() + retry_delay(attempts)
    _finish(
        notification.pk,
        claimed_at,
        email_status=EmailStatus.PENDING,
        email_next_attempt_at=next_attempt_at,
        email_last_error=error,
    )
    logger.warning(
        "notification %s to %s: email attempt %d failed, next at %s: %s",
        notification.pk,
        notification.recipient_id,
        attempts,
        next_attempt_at.isoformat(),
        error,
    )
    return Outcome.RETRY


def notification_send(*, notification_id: int) -> Outcome:
    """Send one notification's email if it is due and nobody else is sending it.

    Runs in autocommit (django-q2 workers do): the claim must be visible to
    other workers before the slow send starts.
    """
    claimed_at = _claim(notification_id)
    if claimed_at is None:
        logger.debug("notification %s: not claimed (not due, taken or done)", notification_id)
        return Outcome.NOT_CLAIMED
    notification = AdminNotification.objects.select_related("recipient").get(pk=notification_id)
    recipient = notification.recipient
    address = getattr(recipient, recipient.get_email_field_name(), "") or ""
    if not address:
        _finish(
            notification_id,
            claimed_at,
            email_status=EmailStatus.SKIPPED,
            email_last_error="the recipient has no email address",
        )
        logger.info(
            "notification %s: user %s has no email address; shown in the admin only",
            notification_id,
            recipient.pk,
        )
        return Outcome.SKIPPED
    try:
        notification_email(notification, address).send()
    except Exception as exc:  # any backend: SMTP, anymail's HTTP APIs, a template error
        return _record_failure(notification, claimed_at, exc)
    _finish(
        notification_id,
        claimed_at,
        email_status=EmailStatus.SENT,
        email_sent_at=timezone.now(),
        email_last_error="",
    )
    logger.info("notification %s: emailed to user %s", notification_id, recipient.pk)
    return Outcome.SENT


def _fail_abandoned(now: datetime) -> int:
    """Stale claims with no attempts left: failed, visible and resendable in the admin."""
    stale_before = now - timedelta(seconds=settings.NOTIFICATION_CLAIM_TIMEOUT_SECONDS)
    failed = AdminNotification.objects.filter(
        email_status=EmailStatus.SENDING,
        email_claimed_at__lt=stale_before,
        email_attempts__gte=settings.NOTIFICATION_MAX_ATTEMPTS,
    ).update(
        email_status=EmailStatus.FAILED, email_claimed_at=None, email_last_error=ABANDONED_ERROR
    )
    if failed:
        logger.error("%d notification email(s) abandoned by a dead worker: failed", failed)
    return failed


def notifications_send(notification_ids: list[int], *, job: str) -> dict[str, int]:
    """Send each of these that is due, one claim at a time; outcomes counted.

    Stops taking new rows halfway through the task timeout so the task itself
    is never killed; what is left stays pending and due, for notification-retry.
    """
    counts: dict[str, int] = {}
    deadline = time.monotonic() + settings.TASK_TIMEOUT_SECONDS / 2
    for notification_id in notification_ids:
        if time.monotonic() > deadline:
            logger.warning("%s: out of time, the rest waits for notification-retry", job)
            break
        try:
            outcome = notification_send(notification_id=notification_id)
        except Exception:
            logger.exception("%s: notification %s", job, notification_id)
            continue
        counts[outcome.value] = counts.get(outcome.value, 0) + 1
    return counts


def notifications_send_due(*, limit: int = 100) -> dict[str, int]:
    """Send what is due: retries past their backoff, lost dispatch tasks, dead workers' claims.

    Each row is claimed on its own, so two sweeps (or a sweep and a dispatch
    task) share the work and never send one twice.
    """
    now = timezone.now()
    counts = {"abandoned": _fail_abandoned(now)}
    due = list(
        AdminNotification.objects.filter(_claimable(now))
        .order_by("email_next_attempt_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    counts.update(notifications_send(due, job="notification-retry"))
    return counts
