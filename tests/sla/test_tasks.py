"""The sla-breach-detection job: its lock, its log line, the breach event and escalation task."""

from __future__ import annotations

import json
import logging
import uuid
from datetime import timedelta

import pytest

from config.schedules import job_named
from notifications.models import AdminNotification
from portal.models import OutboxEvent
from sla.models import SLAAlert
from sla.services import ESCALATION_TASK, sla_scan_run
from sla.tasks import LOCK_KEY, sla_breach_detection
from tests.concurrency import run_at_once
from tests.factories import ClientFactory, OrderFactory, SLAConfigFactory

pytestmark = pytest.mark.django_db


def test_job_is_scheduled_every_5_minutes_by_default():
    job = job_named("sla-breach-detection")
    assert job.func == "sla.tasks.sla_breach_detection"
    assert job.minutes == 5


def test_breach_is_published_to_a_real_subscriber_and_escalated(
    now, order_at, redis_client, subscriber, queued_tasks, django_capture_on_commit_callbacks
):
    SLAConfigFactory(target_minutes=60)
    order = order_at(100, package_id="pkg-x")
    pubsub = subscriber("sla:breached")
    with django_capture_on_commit_callbacks(execute=True):
        sla_breach_detection()

    message = pubsub.get_message(timeout=5)
    assert message is not None
    event = json.loads(message["data"])
    assert event["type"] == "sla:breached"
    assert event["data"] == {
        "orderId": order.id,
        "clientId": order.client_id,
        "packageId": "pkg-x",
        "targetMinutes": 60,
        "elapsedMinutes": 60,
    }
    breach = SLAAlert.objects.get(type="breached")
    escalations = [args for func, args in queued_tasks() if func == ESCALATION_TASK]
    assert escalations == [
        (
            [
                [
                    order.id,
                    "SLA_BREACH",
                    f"sla-alert:{breach.id}",
                    {"elapsedPercent": 100.0, "targetMinutes": 60, "elapsedMinutes": 60},
                ]
            ],
        )
    ]


def test_second_run_publishes_and_escalates_nothing_new(
    now, order_at, redis_client, queued_tasks, time_machine
):
    SLAConfigFactory(target_minutes=60)
    order_at(150)
    sla_breach_detection()
    time_machine.move_to(now + timedelta(minutes=5), tick=False)
    sla_breach_detection()
    assert OutboxEvent.objects.count() == 1
    assert [f for f, _ in queued_tasks()].count(ESCALATION_TASK) == 1


def test_run_logs_one_line_with_its_counts(now, order_at, redis_client, caplog, ops_manager):
    SLAConfigFactory(client_id="acme", target_minutes=60)
    order_at(85)
    order_at(120)
    order_at(10)
    OrderFactory(client_id=ClientFactory(client_id="no-sla").id, created_at=now)
    OrderFactory(client_id="no-sla", created_at=now - timedelta(days=3))
    with caplog.at_level(logging.INFO, logger="sla.tasks"):
        result = sla_breach_detection()
    lines = [r for r in caplog.records if r.name == "sla.tasks"]
    assert len(lines) == 1
    assert "scanned=5 warnings=2 breaches=1 without_target=2 duration=" in lines[0].getMessage()
    assert lines[0].levelno == logging.WARNING  # orders without a target are a config gap
    assert (result.scanned, result.warnings, result.breaches, result.without_target) == (
        5, 2, 1, 2,
    )  # fmt: skip


def test_a_run_that_finds_the_lock_held_logs_and_exits(now, order_at, redis_client, caplog):
    SLAConfigFactory(target_minutes=60)
    order_at(150)
    redis_client.set(LOCK_KEY, "another-run", ex=60)
    with caplog.at_level(logging.INFO, logger="sla.tasks"):
        assert sla_breach_detection() is None
    assert "holds the lock" in caplog.text
    assert not SLAAlert.objects.exists()
    assert redis_client.get(LOCK_KEY) == b"another-run"  # not ours: left alone


def test_the_lock_is_released_after_the_run_and_has_a_ttl(
    now, order_at, redis_client, settings, monkeypatch
):
    settings.SLA_BREACH_DETECTION_LOCK_SECONDS = 300
    seen = {}
    from sla import tasks

    real = tasks.sla_scan_run

    def spy(**kwargs):
        seen["ttl"] = redis_client.ttl(LOCK_KEY)
        return real(**kwargs)

    monkeypatch.setattr(tasks, "sla_scan_run", spy)  # to look at the lock while it is held
    sla_breach_detection()
    assert 0 < seen["ttl"] <= 300
    assert redis_client.get(LOCK_KEY) is None


def test_a_run_whose_lock_expired_does_not_delete_the_next_runs_lock(
    now, order_at, redis_client, monkeypatch
):
    from sla import tasks

    real = tasks.sla_scan_run

    def slow(**kwargs):
        # The TTL passes mid-run and another run takes the lock.
        redis_client.set(LOCK_KEY, "next-run", ex=60)
        return real(**kwargs)

    monkeypatch.setattr(tasks, "sla_scan_run", slow)
    sla_breach_detection()
    assert redis_client.get(LOCK_KEY) == b"next-run"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_runs_at_once_create_and_announce_each_alert_once(now, ops_manager, queued_tasks):
    """Two clusters, no Redis lock between them: the unique constraint alone keeps it exact."""
    tag = uuid.uuid4().hex[:8]
    client = ClientFactory(client_id=f"race-{tag}")
    SLAConfigFactory(target_minutes=60)
    for i in range(200):
        percent = 90 if i % 2 else 150  # half warnings only, half warning + breach
        created = now - timedelta(minutes=60 * percent / 100)
        OrderFactory(order_id=f"race-{tag}-{i:03}", client_id=client.id, created_at=created)
    run_at_once(lambda: sla_scan_run(now=now, batch_size=50))
    assert SLAAlert.objects.filter(type="warning").count() == 200
    assert SLAAlert.objects.filter(type="breached").count() == 100
    assert AdminNotification.objects.count() == 200
    assert OutboxEvent.objects.filter(channel="sla:breached").count() == 100
    triggers = [t for func, args in queued_tasks() if func == ESCALATION_TASK for t in args[0]]
    assert len(triggers) == 100
    assert len({occurrence for _, _, occurrence, _ in triggers}) == 100
