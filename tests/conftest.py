from __future__ import annotations

import pytest
from django.conf import settings
from django.db import connection

from config.redis import get_redis, new_redis


def on_postgres() -> bool:
    return connection.vendor == "postgresql"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked `postgres` need row locks and real concurrency; skip them on SQLite."""
    if "postgres" in settings.DATABASES["default"]["ENGINE"]:
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL (set DATABASE_URL)")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _portal_rows_removed(request: pytest.FixtureRequest):
    """The portal's tables are unmanaged, so the flush after a transactional test keeps their
    rows; remove them so they cannot leak into later tests."""
    yield
    marker = request.node.get_closest_marker("django_db")
    if marker and (marker.kwargs.get("transaction") or (marker.args and marker.args[0])):
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM orders")
            cursor.execute("DELETE FROM clients")


@pytest.fixture
def redis_client():
    """The project's Redis client on an empty database."""
    client = get_redis()
    client.flushdb()
    yield client
    client.flushdb()


@pytest.fixture
def subscriber(redis_client):
    """A second, independent Redis connection subscribed on demand: `subscriber(channel)`."""
    pubsubs = []

    def subscribe(*channels: str):
        pubsub = new_redis().pubsub()
        pubsub.subscribe(*channels)
        for _ in channels:  # the server confirms each channel: then nothing can be missed
            assert pubsub.get_message(timeout=2.0)["type"] == "subscribe"
        pubsub.ignore_subscribe_messages = True
        pubsubs.append(pubsub)
        return pubsub

    yield subscribe
    for pubsub in pubsubs:
        pubsub.close()
