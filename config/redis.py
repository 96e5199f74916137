"""The one place that builds a Redis client."""

from __future__ import annotations

import os
import threading

import redis
from django.conf import settings

_clients: dict[int, redis.Redis] = {}
_lock = threading.Lock()


def redis_url() -> str:
    """REDIS_URL, or the embedded Redis (started if needed) when it is unset."""
    if settings.REDIS_URL:
        return settings.REDIS_URL
    from config import embedded_redis

    return embedded_redis.ensure_running()


def new_redis(**options: object) -> redis.Redis:
    """A client with its own connection pool (a pub/sub listener wants its own)."""
    options.setdefault("socket_timeout", settings.REDIS_SOCKET_TIMEOUT)
    options.setdefault("socket_connect_timeout", settings.REDIS_SOCKET_TIMEOUT)
    options.setdefault("health_check_interval", 30)
    return redis.Redis.from_url(redis_url(), **options)


def get_redis() -> redis.Redis:
    """The process's shared client (thread-safe pool; a new one after fork)."""
    pid = os.getpid()
    client = _clients.get(pid)
    if client is None:
        with _lock:
            client = _clients.get(pid)
            if client is None:
                client = _clients[pid] = new_redis()
    return client
