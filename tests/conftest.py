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


def _db_marker(request: pytest.FixtureRequest) -> tuple[bool, bool]:
    """(uses the database, transactional) for the test asking."""
    marker = request.node.get_closest_marker("django_db")
    if marker is None:
        return False, False
    return True, bool(marker.kwargs.get("transaction") or (marker.args and marker.args[0]))


@pytest.fixture(autouse=True)
def _roles_exist(request: pytest.FixtureRequest) -> None:
    """The role groups come from a data migration, and the flush after a transactional
    test deletes them: put them back so every test starts as a migrated database does."""
    uses_db, transactional = _db_marker(request)
    if not uses_db:
        return
    request.getfixturevalue("transactional_db" if transactional else "db")
    from django.contrib.auth.models import Group

    from notifications.roles import ROLES

    for role in ROLES:
        Group.objects.get_or_create(name=role)


@pytest.fixture(autouse=True)
def _portal_rows_removed(request: pytest.FixtureRequest):
    """The portal's tables are unmanaged, so the flush after a transactional test keeps their
    rows; remove them so they cannot leak into later tests."""
    yield
    if _db_marker(request)[1]:
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
