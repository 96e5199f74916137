"""Emailing notifications through a real SMTP server on loopback (aiosmtpd)."""

from __future__ import annotations

import logging
import smtplib
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from notifications.dispatch import (
    ABANDONED_ERROR,
    Outcome,
    notification_send,
    notifications_send_due,
    retry_delay,
)
from notifications.models import AdminNotification, EmailStatus
from notifications.services import notify
from notifications.tasks import notification_dispatch
from tests.concurrency import run_at_once
from tests.factories import AdminNotificationFactory, UserFactory, VendorFactory
from tests.servers import REFUSED_PREFIX

pytestmark = pytest.mark.django_db


def reloaded(notification: AdminNotification) -> AdminNotification:
    return AdminNotification.objects.get(pk=notification.pk)


def test_email_arrives_with_recipient_subject_sender_and_admin_links(smtp_server, settings):
    settings.EMAIL_SUBJECT_PREFIX = "[Ops] "
    settings.DEFAULT_FROM_EMAIL = "ops@example.com"
    settings.SITE_BASE_URL = "https://ops.example.com"
    user = UserFactory(email="dana@example.com")
    vendor = VendorFactory()

    [notification] = notify(
        title="SLA breached",
        body="Order ord-42 is past its target.",
        recipients=[user],
        order_id="ord-42",
        vendor_id=vendor.id,
    )

    [received] = smtp_server.received
    assert received.rcpt_tos == ["dana@example.com"]
    assert received.mail_from == "ops@example.com"
    assert received.message["Subject"] == "[Ops] SLA breached"
    order_url = "https://ops.example.com/admin/portal/order/ord-42/change/"
    vendor_url = f"https://ops.example.com/admin/vendors/vendor/{vendor.id}/change/"
    text, html = received.part("text/plain"), received.part("text/html")
    assert "Order ord-42 is past its target." in text
    assert order_url in text and vendor_url in text
    assert f'href="{order_url}"' in html and f'href="{vendor_url}"' in html
    notification = reloaded(notification)
    assert notification.email_status == EmailStatus.SENT
    assert notification.email_sent_at is not None
    assert notification.email_attempts == 1


def test_notification_without_order_or_vendor_links_to_itself(settings):
    settings.SITE_BASE_URL = "https://ops.example.com"
    notification = AdminNotificationFactory(title="Line one\nline two")
    assert notification_send(notification_id=notification.pk) == Outcome.SENT
    [message] = mail.outbox
    assert message.subject == f"{settings.EMAIL_SUBJECT_PREFIX}Line one line two"
    assert (
        f"https://ops.example.com/admin/notifications/adminnotification/{notification.pk}/change/"
        in message.body
    )


def test_smtp_down_is_retried_with_backoff_then_failed_then_resent_from_admin(
    smtp_server, settings, admin_client
):
    settings.NOTIFICATION_MAX_ATTEMPTS = 3
    settings.NOTIFICATION_RETRY_BACKOFF_SECONDS = 60
    user = UserFactory(email="ops@example.com")
    smtp_server.stop()

    with time_machine.travel(timezone.now(), tick=False) as clock:
        start = timezone.now()
        [notification] = notify(title="Vendor offline", recipients=[user], vendor_id=1)
        notification = reloaded(notification)
        assert notification.email_status == EmailStatus.PENDING
        assert notification.email_attempts == 1
        assert "ConnectionRefusedError" in notification.email_last_error
        assert notification.email_next_attempt_at == start + timedelta(seconds=60)

        notifications_send_due()  # not due yet
        assert reloaded(notification).email_attempts == 1

        clock.shift(timedelta(seconds=60))
        assert notifications_send_due()[Outcome.RETRY] == 1
        notification = reloaded(notification)
        assert notification.email_attempts == 2
        assert notification.email_next_attempt_at == timezone.now() + timedelta(seconds=120)

        clock.shift(timedelta(seconds=120))
        assert notifications_send_due()[Outcome.FAILED] == 1
        clock.shift(timedelta(days=1))
        notifications_send_due()  # gave up: nothing more is tried

    notification = reloaded(notification)
    assert notification.email_status == EmailStatus.FAILED
    assert notification.email_attempts == 3
    assert "ConnectionRefusedError" in notification.email_last_error
    assert smtp_server.received == []

    smtp_server.start()
    response = admin_client.post(
        "/admin/notifications/adminnotification/",
        {"action": "resend_email", "_selected_action": [notification.pk]},
    )
    assert response.status_code == 302

    [received] = smtp_server.received
    assert received.rcpt_tos == ["ops@example.com"]
    notification = reloaded(notification)
    assert notification.email_status == EmailStatus.SENT
    assert notification.email_attempts == 1
    assert notification.email_last_error == ""


def test_backoff_doubles_and_is_capped(settings):
    settings.NOTIFICATION_RETRY_BACKOFF_SECONDS = 30
    settings.NOTIFICATION_RETRY_BACKOFF_MAX_SECONDS = 100
    assert [retry_delay(n).total_seconds() for n in (1, 2, 3, 4)] == [30, 60, 100, 100]


def test_refused_recipient_fails_at_once_without_retry(smtp_server):
    user = UserFactory(email=f"{REFUSED_PREFIX}x@example.com")
    [notification] = notify(title="x", recipients=[user])
    notification = reloaded(notification)
    assert notification.email_status == EmailStatus.FAILED
    assert notification.email_attempts == 1
    assert "SMTPRecipientsRefused" in notification.email_last_error


def test_recipient_without_email_gets_the_admin_notification_only(caplog):
    user = UserFactory(email="")
    with caplog.at_level(logging.INFO, logger="notifications.dispatch"):
        [notification] = notify(title="Breach", recipients=[user])
    notification = reloaded(notification)
    assert notification.email_status == EmailStatus.SKIPPED
    assert mail.outbox == []
    assert f"user {user.pk} has no email address" in caplog.text


def test_dispatch_twice_sends_once():
    notification = AdminNotificationFactory()
    notification_dispatch(notification.pk)
    notification_dispatch(notification.pk)
    assert len(mail.outbox) == 1
    assert reloaded(notification).email_attempts == 1


def test_sweep_sends_a_notification_whose_dispatch_task_was_lost():
    notification = AdminNotificationFactory()  # a row without its task
    assert notifications_send_due()[Outcome.SENT] == 1
    assert reloaded(notification).email_status == EmailStatus.SENT


def test_sweep_takes_over_only_claims_older_than_the_timeout(settings):
    settings.NOTIFICATION_CLAIM_TIMEOUT_SECONDS = 300
    now = timezone.now()
    dead = AdminNotificationFactory(
        email_status=EmailStatus.SENDING,
        email_claimed_at=now - timedelta(seconds=301),
        email_attempts=1,
    )
    busy = AdminNotificationFactory(
        email_status=EmailStatus.SENDING, email_claimed_at=now, email_attempts=1
    )
    notifications_send_due()
    # At least once: the dead worker's send is repeated, as attempt 2.
    assert reloaded(dead).email_status == EmailStatus.SENT
    assert reloaded(dead).email_attempts == 2
    assert reloaded(busy).email_status == EmailStatus.SENDING
    assert len(mail.outbox) == 1


def test_dead_workers_claim_without_attempts_left_is_failed(settings):
    settings.NOTIFICATION_MAX_ATTEMPTS = 2
    notification = AdminNotificationFactory(
        email_status=EmailStatus.SENDING,
        email_claimed_at=timezone.now() - timedelta(hours=1),
        email_attempts=2,
    )
    assert notifications_send_due()["abandoned"] == 1
    notification = reloaded(notification)
    assert notification.email_status == EmailStatus.FAILED
    assert notification.email_last_error == ABANDONED_ERROR
    assert mail.outbox == []


def test_a_late_worker_does_not_overwrite_the_claim_that_replaced_it():
    """A worker slower than the claim timeout fails after the sweep re-claimed and sent its row."""
    notification = AdminNotificationFactory()
    original_send = mail.EmailMultiAlternatives.send
    paused = []

    def slow_send(message, *args, **kwargs):
        if paused:
            return original_send(message, *args, **kwargs)
        paused.append(True)
        # While this first worker "hangs", its claim ages and the sweep takes over.
        AdminNotification.objects.filter(pk=notification.pk).update(
            email_claimed_at=timezone.now() - timedelta(hours=1)
        )
        assert notifications_send_due()[Outcome.SENT] == 1
        raise smtplib.SMTPServerDisconnected("connection lost")

    # A patched method is the only way to pause one send at this exact point;
    # the sweep's send still goes through Django's real (locmem) backend.
    mail.EmailMultiAlternatives.send = slow_send
    try:
        notification_send(notification_id=notification.pk)
    finally:
        mail.EmailMultiAlternatives.send = original_send
    notification = reloaded(notification)
    assert notification.email_status == EmailStatus.SENT  # not put back to pending
    assert notification.email_last_error == ""
    assert notification.email_attempts == 2
    assert len(mail.outbox) == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_dispatchers_at_once_send_exactly_one_email(smtp_server):
    notification = AdminNotificationFactory(recipient=UserFactory(email="one@example.com"))
    run_at_once(lambda: notification_dispatch(notification.pk), threads=4)

    assert len(smtp_server.received) == 1
    notification = reloaded(notification)
    assert notification.email_status == EmailStatus.SENT
    assert notification.email_attempts == 1
