"""The long-running subscriber behind `manage.py listen_events`.

Shaped like healthchecks' sendalerts: a signal only sets `stop_requested`;
the loop waits at most `poll_seconds` at a time (get_message with a
timeout, sleeps in short slices), so SIGTERM stops it within about a
second. Redis going away never ends it: it reconnects forever with capped
exponential backoff and subscribes again. Each message goes through
portal.inbound.handle_message, which never lets one message stop the loop.

Pub/sub delivers at most once: whatever is published while this process is
down or reconnecting is lost here, and order-status-sync picks it up from
the database.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import redis
from django.conf import settings
from django.db import close_old_connections
from redis.backoff import NoBackoff
from redis.retry import Retry

from config.redis import new_redis
from portal.inbound import HandlerTable, handle_message

logger = logging.getLogger(__name__)

FIRST_BACKOFF_SECONDS = 0.5
_SLEEP_SLICE_SECONDS = 0.1


def pubsub_client() -> redis.Redis:
    """A client of its own with no silent retries: the loop sees every failure and logs it."""
    return new_redis(retry=Retry(NoBackoff(), 0))


def backoff_seconds(failures: int, *, cap: float) -> float:
    """0.5, 1, 2, 4, ... seconds after consecutive failures, never more than `cap`."""
    return min(cap, FIRST_BACKOFF_SECONDS * 2 ** max(0, failures - 1))


def describe(client: redis.Redis) -> str:
    """Where a client points, without its password."""
    kwargs = client.connection_pool.connection_kwargs
    if kwargs.get("path"):
        return f"unix://{kwargs['path']}"
    return f"redis://{kwargs.get('host')}:{kwargs.get('port')}/{kwargs.get('db', 0)}"


class EventListener:
    def __init__(
        self,
        *,
        handlers: HandlerTable,
        client_factory: Callable[[], redis.Redis] = pubsub_client,
        poll_seconds: float = 1.0,
        max_backoff_seconds: float | None = None,
    ) -> None:
        self.handlers = handlers
        self.channels = list(handlers)
        self.client_factory = client_factory
        self.poll_seconds = poll_seconds
        self.max_backoff_seconds = (
            settings.EVENT_LISTENER_MAX_BACKOFF_SECONDS
            if max_backoff_seconds is None
            else max_backoff_seconds
        )
        self.stop_requested = False
        self.messages_seen = 0
        self.connections = 0  # successful (re)subscriptions, for operators and tests
        self.failures = 0  # Redis failures since start

    def request_stop(self, signum: int | None = None, frame: object = None) -> None:
        """Signal handler: only sets the flag; the loop notices within poll_seconds."""
        self.stop_requested = True

    def run(self) -> None:
        routes = "; ".join(f"{c} -> {', '.join(p for p, _ in h) or '(none)'}"
                           for c, h in self.handlers.items())  # fmt: skip
        logger.info("listen_events starting: %s", routes)
        pubsub: redis.client.PubSub | None = None
        failures = 0
        while not self.stop_requested:
            try:
                if pubsub is None:
                    pubsub = self._subscribe(failures)
                    failures = 0
                message = pubsub.get_message(
                    ignore_subscribe_messages=True, timeout=self.poll_seconds
                )
            except Exception as exc:  # Redis errors above all; nothing may end the loop
                failures += 1
                self.failures += 1
                self._close(pubsub)
                pubsub = None
                delay = backoff_seconds(failures, cap=self.max_backoff_seconds)
                expected = isinstance(exc, redis.RedisError | OSError)
                log = logger.warning if expected else logger.exception
                log("Redis connection lost or refused (%s: %s); reconnecting in %.1f s "
                    "(attempt %d)", type(exc).__name__, exc, delay, failures)  # fmt: skip
                self._sleep(delay)
                continue
            if message is not None and message.get("type") == "message":
                self._handle(message)
        self._close(pubsub)
        logger.info("listen_events stopped after %d messages", self.messages_seen)

    def _subscribe(self, failures: int) -> redis.client.PubSub:
        client = self.client_factory()
        pubsub = client.pubsub(ignore_subscribe_messages=True)
        try:
            pubsub.subscribe(*self.channels)
        except Exception:
            self._close(pubsub)
            raise
        self.connections += 1
        where = describe(client)
        if self.connections == 1:
            logger.info("listening on %s at %s", ", ".join(self.channels), where)
        else:
            logger.info("reconnected to Redis at %s after %d failed attempts; resubscribed to %s",
                        where, failures, ", ".join(self.channels))  # fmt: skip
        return pubsub

    def _handle(self, message: dict) -> None:
        channel = _text(message.get("channel"))
        raw = message.get("data")
        raw = raw if isinstance(raw, bytes) else str(raw).encode()
        # Like a request cycle: drop a database connection that broke or
        # outlived CONN_MAX_AGE while we waited, before and after the work.
        close_old_connections()
        try:
            handle_message(channel, raw, self.handlers)
        except Exception:  # handle_message already catches; this is the last line of defence
            logger.exception("unexpected error handling a message on %s", channel)
        finally:
            close_old_connections()
            self.messages_seen += 1  # counted once done (tests wait on it)

    def _sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not self.stop_requested and time.monotonic() < deadline:
            time.sleep(max(0.0, min(_SLEEP_SLICE_SECONDS, deadline - time.monotonic())))

    @staticmethod
    def _close(pubsub: redis.client.PubSub | None) -> None:
        if pubsub is None:
            return
        try:
            pubsub.close()
        except Exception:  # a dead connection may fail to close; it is being dropped anyway
            logger.debug("closing the pub/sub connection failed", exc_info=True)


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)
