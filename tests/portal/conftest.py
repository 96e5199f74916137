from __future__ import annotations

import contextlib
import json
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from django.db import connections

from config import redis as config_redis
from portal.inbound import HandlerTable, load_handlers
from portal.listener import EventListener
from tests.concurrency import wait_until
from tests.servers import RedisServer, subscribers


def envelope(channel: str, data: dict, *, event_id: str | None = None) -> str:
    return json.dumps(
        {
            "id": event_id or str(uuid.uuid4()),
            "type": channel,
            "occurredAt": "2025-01-02T03:04:05Z",
            "data": data,
        }
    )


@pytest.fixture
def redis_server(tmp_path: Path, settings, monkeypatch) -> Iterator[RedisServer]:
    """A private Redis that the project's clients (get_redis, new_redis) point at."""
    server = RedisServer(tmp_path)
    server.start()
    settings.REDIS_URL = server.url
    monkeypatch.setattr(config_redis, "_clients", {})  # get_redis() builds a client for this URL
    yield server
    server.stop()


class ListenerThread:
    def __init__(self, handlers: HandlerTable, **options: object) -> None:
        self.listener = EventListener(handlers=handlers, poll_seconds=0.2, **options)
        self.thread = threading.Thread(target=self._run, name="listener", daemon=True)

    def _run(self) -> None:
        try:
            self.listener.run()
        finally:
            connections.close_all()  # this thread's connections, or the test database stays in use

    def start(self) -> ListenerThread:
        self.thread.start()
        return self

    def wait_for_messages(self, count: int, *, timeout: float = 10.0) -> None:
        """Until `count` messages are handled in all. Waiting on the counter, not on the database:
        the SQLite test database (shared-cache memory) refuses a read beside a write."""
        wait_until(lambda: self.listener.messages_seen >= count, timeout=timeout,
                   what=f"{count} messages handled")  # fmt: skip

    def stop(self) -> None:
        self.listener.request_stop()
        self.thread.join(timeout=5)
        assert not self.thread.is_alive(), "the listener did not stop"


@pytest.fixture
def start_listener(redis_client) -> Iterator[Callable[..., ListenerThread]]:
    """Start an EventListener in a thread, subscribed on return; stopped after the test."""
    started: list[ListenerThread] = []

    def start(
        handlers: HandlerTable | None = None,
        *,
        redis_for_check: redis.Redis | None = None,
        **options: object,
    ) -> ListenerThread:
        runner = ListenerThread(handlers if handlers is not None else load_handlers(), **options)
        started.append(runner.start())
        check = redis_for_check or redis_client
        channel = next(iter(runner.listener.channels))
        wait_until(lambda: subscribers(check, channel) >= 1, what="the listener to subscribe")
        return runner

    yield start
    for runner in started:
        with contextlib.suppress(AssertionError):
            runner.stop()
