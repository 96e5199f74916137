from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.core import mail

from notifications.models import AdminNotification, AuditLog, EmailStatus
from tests.factories import AdminNotificationFactory, UserFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/notifications/adminnotification/"


@pytest.fixture
def staff(client):
    user = UserFactory(username="dana")
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="notifications", codename__in=[
            "view_adminnotification", "change_adminnotification",
        ])
    )  # fmt: skip
    client.force_login(user)
    return user


def listed(response) -> set[int]:
    return {n.pk for n in response.context["cl"].result_list}


def test_filters_by_recipient_read_sent_and_failed(client, staff):
    mine_unread = AdminNotificationFactory(recipient=staff)
    mine_read = AdminNotificationFactory(recipient=staff, read_at="2026-01-01T00:00Z")
    sent = AdminNotificationFactory(email_status=EmailStatus.SENT)
    failed = AdminNotificationFactory(email_status=EmailStatus.FAILED)

    assert listed(client.get(CHANGELIST, {"recipient__id__exact": staff.pk})) == {
        mine_unread.pk, mine_read.pk,
    }  # fmt: skip
    unread = listed(client.get(CHANGELIST, {"recipient__id__exact": staff.pk, "read": "no"}))
    assert unread == {mine_unread.pk}
    assert listed(client.get(CHANGELIST, {"read": "yes"})) == {mine_read.pk}
    assert listed(client.get(CHANGELIST, {"email_status__exact": "sent"})) == {sent.pk}
    assert listed(client.get(CHANGELIST, {"email_status__exact": "failed"})) == {failed.pk}


def test_mark_as_read_action(client, staff):
    first, second = AdminNotificationFactory(recipient=staff), AdminNotificationFactory()
    client.post(CHANGELIST, {"action": "mark_read", "_selected_action": [first.pk, second.pk]})
    assert AdminNotification.objects.filter(read_at__isnull=True).count() == 0


def test_resend_skips_emails_still_on_their_way_and_is_audited(client, staff):
    failed = AdminNotificationFactory(
        email_status=EmailStatus.FAILED, email_attempts=5, email_last_error="boom"
    )
    pending = AdminNotificationFactory(email_status=EmailStatus.PENDING, email_attempts=1)
    response = client.post(
        CHANGELIST,
        {"action": "resend_email", "_selected_action": [failed.pk, pending.pk]},
        follow=True,
    )
    messages = [str(m) for m in response.context["messages"]]
    assert "1 email(s) queued again." in messages
    assert "1 skipped: still pending or being sent." in messages
    assert len(mail.outbox) == 1  # the failed one, sent by its re-queued dispatch
    assert AdminNotification.objects.get(pk=pending.pk).email_attempts == 1  # untouched
    entry = AuditLog.objects.get(action="notification.email_resent")
    assert entry.target_id == str(failed.pk)
    assert entry.actor_user == staff
    assert entry.before["email_status"] == "failed" and entry.before["email_attempts"] == 5
    assert entry.after == {"email_status": "pending", "email_attempts": 0}


def test_index_shows_each_staff_users_own_unread_count(client, staff):
    AdminNotificationFactory.create_batch(2, recipient=staff)
    AdminNotificationFactory(recipient=staff, read_at="2026-01-01T00:00Z")
    AdminNotificationFactory.create_batch(3)  # someone else's
    response = client.get("/admin/")
    assert "You have <strong>2</strong> unread notifications." in response.content.decode()
    assert f"recipient__id__exact={staff.pk}&amp;read=no" in response.content.decode()
