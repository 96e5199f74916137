"""Outgoing events: outbox in the caller's transaction, published after commit."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import redis
from django.db import connection, transaction
from django.utils import timezone
from django_q.tasks import async_task

from config.schedules import job_named
from portal import events
from portal.events import (
    SLA_BREACHED,
    VENDOR_STATUS_CHANGED,
    flush_outbox,
    publish,
    publish_many,
)
from portal.models import OutboxEvent, RejectedEvent
from portal.tasks import event_relay

pytestmark = pytest.mark.django_db(transaction=True)


def test_rolled_back_event_is_never_sent(redis_client, subscriber):
    pubsub = subscriber(SLA_BREACHED)
    with pytest.raises(RuntimeError), transaction.atomic():
        publish(SLA_BREACHED, {"orderId": "o-1"})
        raise RuntimeError("the change failed")
    assert pubsub.get_message(timeout=0.5) is None
    assert not OutboxEvent.objects.exists()


def test_committed_event_arrives_with_the_envelope(redis_client, subscriber):
    pubsub = subscriber(VENDOR_STATUS_CHANGED)
    with transaction.atomic():
        event = publish(VENDOR_STATUS_CHANGED, {"vendorId": 4, "status": "offline"})
        assert pubsub.get_message(timeout=0.2) is None  # not before the commit
    message = json.loads(pubsub.get_message(timeout=2.0)["data"])
    assert message == {
        "id": str(event.event_id),
        "type": VENDOR_STATUS_CHANGED,
        "occurredAt": message["occurredAt"],
        "data": {"vendorId": 4, "status": "offline"},
    }
    assert message["occurredAt"].endswith("Z")
    event.refresh_from_db()
    assert event.published_at is not None


def test_events_of_a_channel_go_out_in_order(redis_client, subscriber):
    pubsub = subscriber(SLA_BREACHED)
    with transaction.atomic():
        for n in range(5):
            publish(SLA_BREACHED, {"orderId": f"o-{n}"})
    received = [json.loads(pubsub.get_message(timeout=2.0)["data"]) for _ in range(5)]
    assert [m["data"]["orderId"] for m in received] == [f"o-{n}" for n in range(5)]


def test_unpublished_rows_are_sent_by_a_later_flush(redis_client, subscriber):
    with transaction.atomic():
        publish(SLA_BREACHED, {"orderId": "o-9"})
        # As if Redis had refused at commit: the row stays unpublished.
    OutboxEvent.objects.update(published_at=None)
    pubsub = subscriber(SLA_BREACHED)
    assert flush_outbox(SLA_BREACHED) == 1
    assert json.loads(pubsub.get_message(timeout=2.0)["data"])["data"] == {"orderId": "o-9"}
    assert flush_outbox(SLA_BREACHED) == 0


def test_only_outgoing_channels_can_be_published():
    with pytest.raises(ValueError, match="not an outgoing channel"):
        publish("order:new", {"orderId": "x"})


# --- the event-relay job ------------------------------------------------------


def test_event_refused_at_commit_is_sent_by_the_relay_after_redis_returns(redis_server):
    redis_server.stop()  # Redis refuses connections at the commit
    with transaction.atomic():
        for n in range(3):
            publish(SLA_BREACHED, {"orderId": f"o-{n}"})
    assert OutboxEvent.objects.filter(published_at__isnull=True).count() == 3

    redis_server.start()
    pubsub = redis_server.client().pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(SLA_BREACHED)
    pubsub.get_message(timeout=1.0)
    # Through django-q2 (inline in tests), by the dotted path the schedule uses.
    async_task("portal.tasks.event_relay")
    received = [json.loads(pubsub.get_message(timeout=2.0)["data"]) for _ in range(3)]
    assert [m["data"]["orderId"] for m in received] == ["o-0", "o-1", "o-2"]
    assert not OutboxEvent.objects.filter(published_at__isnull=True).exists()
    assert event_relay()["published"] == 0  # nothing twice
    assert pubsub.get_message(timeout=0.3) is None
    pubsub.close()


def test_relay_with_redis_still_down_keeps_the_events(redis_server):
    redis_server.stop()
    with transaction.atomic():
        publish(VENDOR_STATUS_CHANGED, {"vendorId": 1})
    result = event_relay()
    assert result["published"] == 0
    assert result["waiting"] == 1


def test_relay_prunes_published_events_past_retention_only(redis_client, settings):
    settings.EVENT_OUTBOX_RETENTION_DAYS = 7
    settings.REJECTED_EVENT_RETENTION_DAYS = 30
    now = timezone.now()
    with transaction.atomic():
        old, recent, unsent = (publish(SLA_BREACHED, {"orderId": f"o-{n}"}) for n in range(3))
    OutboxEvent.objects.filter(pk=old.pk).update(published_at=now - timedelta(days=8))
    OutboxEvent.objects.filter(pk=recent.pk).update(published_at=now - timedelta(days=6))
    OutboxEvent.objects.filter(pk=unsent.pk).update(
        published_at=None, created_at=now - timedelta(days=60)
    )
    RejectedEvent.objects.create(channel="order:new", reason="not_json", raw_size=1,
                                 received_at=now - timedelta(days=31))  # fmt: skip
    kept = RejectedEvent.objects.create(channel="order:new", reason="not_json", raw_size=1,
                                        received_at=now - timedelta(days=29))  # fmt: skip
    # Redis refuses nothing here, so the unsent one goes out first and stays (recent now).
    result = event_relay()
    assert result["pruned"] == 1
    assert result["rejected_pruned"] == 1
    assert set(OutboxEvent.objects.values_list("pk", flat=True)) == {recent.pk, unsent.pk}
    assert list(RejectedEvent.objects.values_list("pk", flat=True)) == [kept.pk]


def test_relay_and_sync_are_declared_every_minute():
    assert job_named("event-relay").func == "portal.tasks.event_relay"
    assert job_named("event-relay").minutes == 1
    assert job_named("order-status-sync").func == "portal.tasks.order_status_sync"
    assert job_named("order-status-sync").minutes == 1


# --- publish_many and the pipelined flush ----------------------------------------


def test_publish_many_sends_every_event_in_order_after_one_flush(redis_client, subscriber):
    pubsub = subscriber(SLA_BREACHED)
    with transaction.atomic():
        before = len(connection.run_on_commit)
        events = publish_many(SLA_BREACHED, ({"orderId": f"o-{n}"} for n in range(5)))
        assert len(connection.run_on_commit) == before + 1  # one flush for the lot
        assert pubsub.get_message(timeout=0.2) is None  # not before the commit
    received = [json.loads(pubsub.get_message(timeout=2.0)["data"]) for _ in range(5)]
    assert [m["data"]["orderId"] for m in received] == [f"o-{n}" for n in range(5)]
    assert [m["id"] for m in received] == [str(event.event_id) for event in events]
    assert {m["type"] for m in received} == {SLA_BREACHED}
    assert all(m["occurredAt"].endswith("Z") for m in received)
    assert not OutboxEvent.objects.filter(published_at__isnull=True).exists()
    assert set(OutboxEvent.objects.values_list("attempts", flat=True)) == {1}


def test_publish_many_rolled_back_sends_nothing(redis_client, subscriber):
    pubsub = subscriber(SLA_BREACHED)
    with pytest.raises(RuntimeError), transaction.atomic():
        publish_many(SLA_BREACHED, [{"orderId": "o-1"}, {"orderId": "o-2"}])
        raise RuntimeError("the change failed")
    assert pubsub.get_message(timeout=0.5) is None
    assert not OutboxEvent.objects.exists()


def test_publish_many_of_nothing_writes_and_schedules_nothing():
    with transaction.atomic():
        before = len(connection.run_on_commit)
        assert publish_many(SLA_BREACHED, []) == []
        assert len(connection.run_on_commit) == before
    assert not OutboxEvent.objects.exists()


def test_publish_many_only_on_outgoing_channels():
    with pytest.raises(ValueError, match="not an outgoing channel"):
        publish_many("order:new", [{"orderId": "x"}])


def test_a_backlog_larger_than_a_batch_goes_out_in_order(redis_client, subscriber, monkeypatch):
    monkeypatch.setattr(events, "FLUSH_BATCH", 3)
    with transaction.atomic():
        publish_many(SLA_BREACHED, ({"orderId": f"o-{n}"} for n in range(7)))
    OutboxEvent.objects.update(published_at=None)  # as if Redis had refused at commit
    pubsub = subscriber(SLA_BREACHED)
    assert flush_outbox(SLA_BREACHED) == 7
    received = [json.loads(pubsub.get_message(timeout=2.0)["data"]) for _ in range(7)]
    assert [m["data"]["orderId"] for m in received] == [f"o-{n}" for n in range(7)]
    assert flush_outbox(SLA_BREACHED) == 0


def _client_as(client: redis.Redis, username: str, password: str) -> redis.Redis:
    """A client to the same server as `client`, logged in as another ACL user."""
    pool = client.connection_pool
    kwargs = {**pool.connection_kwargs, "username": username, "password": password}
    return redis.Redis(connection_pool=redis.ConnectionPool(pool.connection_class, **kwargs))


def test_a_command_refused_in_the_pipeline_marks_only_the_events_before_it(redis_client):
    # A real refusal: a Redis user allowed to publish on sla:* only (ACL).
    # _publish_pending sends one channel per batch; a mixed batch is how a
    # refusal in the middle of a pipeline can be provoked for real.
    redis_client.acl_setuser(
        "sla-only", enabled=True, passwords=["+pw"], commands=["+publish"],
        channels=["sla:*"], reset_channels=True,
    )  # fmt: skip
    try:
        with transaction.atomic():
            first = publish_many(SLA_BREACHED, [{"orderId": "o-1"}, {"orderId": "o-2"}])
            refused = publish(VENDOR_STATUS_CHANGED, {"vendorId": 1})
            last = publish(SLA_BREACHED, {"orderId": "o-3"})
        OutboxEvent.objects.update(published_at=None, attempts=0)
        batch = list(OutboxEvent.objects.order_by("id"))
        limited = _client_as(redis_client, "sla-only", "pw")
        assert events._publish_batch(limited, batch) == 2
        limited.close()
    finally:
        redis_client.acl_deluser("sla-only")
    published = OutboxEvent.objects.filter(published_at__isnull=False)
    assert set(published.values_list("pk", flat=True)) == {event.pk for event in first}
    refused.refresh_from_db()
    assert refused.attempts == 1
    assert "NOPERM" in refused.last_error or "permission" in refused.last_error.lower()
    last.refresh_from_db()
    assert (last.published_at, last.attempts) == (None, 0)  # waits behind the refused one


def test_a_connection_lost_in_the_pipeline_marks_none(db, tmp_path):
    with transaction.atomic():
        publish_many(SLA_BREACHED, [{"orderId": "o-1"}, {"orderId": "o-2"}])
    OutboxEvent.objects.update(published_at=None, attempts=0)
    batch = list(OutboxEvent.objects.order_by("id"))
    # A real refused connection: nothing listens on this socket.
    dead = redis.Redis(unix_socket_path=str(tmp_path / "nobody.sock"))
    assert events._publish_batch(dead, batch) == 0
    assert not OutboxEvent.objects.filter(published_at__isnull=False).exists()
    first = OutboxEvent.objects.order_by("id").first()
    assert first.attempts == 1
    assert first.last_error
