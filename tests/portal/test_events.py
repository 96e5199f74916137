"""Outgoing events: outbox in the caller's transaction, published after commit."""

from __future__ import annotations

import json

import pytest
from django.db import transaction

from portal.events import SLA_BREACHED, VENDOR_STATUS_CHANGED, flush_outbox, publish
from portal.models import OutboxEvent

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
