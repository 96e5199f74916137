from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django_q.models import Task

from notifications import services
from notifications.models import ActorType, AdminNotification, AuditLog
from notifications.roles import OPS_MANAGER, PROCESSOR, orders_recipients, role_members
from notifications.services import Notice, audit, notify, notify_many
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def member(role: str, **kwargs):
    return UserFactory(roles=[role], **kwargs)


def test_roles_exist_after_migrate():
    assert set(Group.objects.values_list("name", flat=True)) >= {PROCESSOR, OPS_MANAGER}


def test_role_resolves_to_active_members_only():
    active = member(OPS_MANAGER)
    member(OPS_MANAGER, is_active=False)
    member(PROCESSOR)
    assert role_members(OPS_MANAGER) == [active]
    assert role_members("no-such-role") == []


def test_order_recipients_prefer_the_assigned_processor():
    processor = member(PROCESSOR)
    manager = member(OPS_MANAGER)
    assert orders_recipients({"o-1": processor.id, "o-2": None}) == {
        "o-1": [processor],
        "o-2": [manager],
    }


def test_order_recipients_fall_back_when_assignee_is_inactive():
    gone = member(PROCESSOR, is_active=False)
    manager = member(OPS_MANAGER)
    assert orders_recipients({"o-1": gone.id}) == {"o-1": [manager]}


def test_notify_role_creates_one_per_member_and_enqueues_dispatch():
    managers = [member(OPS_MANAGER), member(OPS_MANAGER)]
    created = notify(title="Vendor offline", role=OPS_MANAGER, vendor_id=7)
    assert sorted(n.recipient_id for n in created) == sorted(m.id for m in managers)
    dispatched = Task.objects.filter(func="notifications.tasks.notification_dispatch")
    assert sorted(t.args[0] for t in dispatched) == sorted(n.id for n in created)


def test_same_dedupe_key_notifies_once_per_recipient():
    manager = member(OPS_MANAGER)
    first = notify(title="Breach", role=OPS_MANAGER, dedupe_key="sla:o-1:breached")
    second = notify(title="Breach", role=OPS_MANAGER, dedupe_key="sla:o-1:breached")
    assert len(first) == 1 and second == []
    assert AdminNotification.objects.filter(recipient=manager).count() == 1
    newcomer = member(OPS_MANAGER)
    third = notify(title="Breach", role=OPS_MANAGER, dedupe_key="sla:o-1:breached")
    assert [n.recipient_id for n in third] == [newcomer.id]


def test_users_and_role_together_are_not_doubled():
    manager = member(OPS_MANAGER)
    created = notify(title="x", recipients=[manager], role=OPS_MANAGER)
    assert len(created) == 1


def test_notify_without_recipients_creates_nothing():
    assert notify(title="nobody home", role=OPS_MANAGER) == []


def dispatched_ids() -> list[int]:
    """Every notification id handed to a dispatch task, one by one or in a batch."""
    ids = [t.args[0] for t in Task.objects.filter(func="notifications.tasks.notification_dispatch")]
    for task in Task.objects.filter(func="notifications.tasks.notification_dispatch_batch"):
        ids += task.args[0]
    return sorted(ids)


def test_notify_many_sends_its_emails_in_batch_tasks(monkeypatch):
    monkeypatch.setattr(services, "DISPATCH_BATCH", 2)
    users = [UserFactory() for _ in range(3)]
    notify_many([Notice(title="t", recipients=users)])
    batches = Task.objects.filter(func="notifications.tasks.notification_dispatch_batch")
    assert sorted(len(t.args[0]) for t in batches) == [1, 2]
    assert AdminNotification.objects.filter(email_status="sent").count() == 3


def test_notify_many_creates_one_per_recipient_per_notice_and_enqueues_dispatch():
    a, b = UserFactory(), UserFactory()
    created = notify_many(
        [
            Notice(title="one", body="b1", recipients=[a, b], level="warning", order_id="o-1",
                   dedupe_key="k-1"),
            Notice(title="two", recipients=[a, a], vendor_id=3, dedupe_key="k-2"),
        ]
    )  # fmt: skip
    rows = AdminNotification.objects.order_by("id")
    assert [(n.recipient_id, n.title, n.dedupe_key) for n in rows] == [
        (a.id, "one", "k-1"),
        (b.id, "one", "k-1"),
        (a.id, "two", "k-2"),
    ]
    assert (rows[0].body, rows[0].level, rows[0].order_id) == ("b1", "warning", "o-1")
    assert rows[2].vendor_id == 3
    assert sorted(n.pk for n in created) == [n.pk for n in rows] == dispatched_ids()


def test_notify_many_skips_what_was_already_notified_under_the_key():
    a, b = UserFactory(), UserFactory()
    notify(title="earlier", recipients=[a], dedupe_key="k-1")
    created = notify_many(
        [
            Notice(title="again", recipients=[a, b], dedupe_key="k-1"),
            Notice(title="repeat within the call", recipients=[b], dedupe_key="k-1"),
            Notice(title="no key", recipients=[a]),
            Notice(title="no key", recipients=[a]),
        ]
    )
    assert [(n.recipient_id, n.title) for n in created] == [
        (b.id, "again"),
        (a.id, "no key"),
        (a.id, "no key"),
    ]
    assert AdminNotification.objects.filter(dedupe_key="k-1").count() == 2
    assert len(dispatched_ids()) == 1 + 3
    assert notify_many([Notice(title="again", recipients=[a, b], dedupe_key="k-1")]) == []


def test_notify_many_inserted_concurrently_falls_back_to_one_by_one(monkeypatch):
    a, b = UserFactory(), UserFactory()
    notify(title="a concurrent run's", recipients=[a], dedupe_key="k-1")
    # The other caller's row committed after this call looked the keys up:
    # the lookup saw nothing, the bulk insert meets the unique constraint.
    monkeypatch.setattr(services, "_existing_pairs", lambda keys: set())
    created = notify_many([Notice(title="ours", recipients=[a, b], dedupe_key="k-1")])
    assert [n.recipient_id for n in created] == [b.id]
    assert AdminNotification.objects.filter(dedupe_key="k-1").count() == 2
    assert len(dispatched_ids()) == 2


def test_notify_many_without_recipients_creates_nothing():
    assert notify_many([Notice(title="nobody home", recipients=[])]) == []
    assert not AdminNotification.objects.exists()


def test_audit_carries_before_after_and_actor():
    row = audit(
        action="vendor.status_changed",
        target_type="vendor",
        target_id=3,
        before={"status": "active"},
        after={"status": "offline"},
        reason="3 consecutive failed health checks",
        actor="vendor-health-check",
    )
    row = AuditLog.objects.get(pk=row.pk)
    assert row.before == {"status": "active"}
    assert row.after == {"status": "offline"}
    assert row.actor_type == ActorType.SYSTEM
    assert row.actor_label == "vendor-health-check"
    assert row.target_id == "3"


def test_audit_by_a_person():
    user = UserFactory()
    row = audit(action="vendor.maintenance", target_type="vendor", target_id=1, user=user)
    assert row.actor_type == ActorType.USER and row.actor_user == user
