"""django-q2 entry points for SLA jobs: thin, they read settings and call services."""

from __future__ import annotations

import logging

import redis
from django.conf import settings
from django.utils import timezone
from redis.exceptions import LockError

from config.redis import get_redis
from sla.services import ScanResult, sla_scan_run

logger = logging.getLogger(__name__)

LOCK_KEY = "lock:sla-breach-detection"


def sla_breach_detection() -> ScanResult | None:
    """Job sla-breach-detection: create due SLA alerts for every open order and announce them.

    Touches SLAAlert (inserts), AdminNotification, AuditLog, the event outbox
    and django-q2 tasks (auto-escalation); reads the portal's orders.
    Safe to run twice at once: a Redis lock keeps runs from overlapping (the
    second one logs and exits), and if the lock is lost (Redis down, TTL
    passed) the unique (order, type) constraint still lets only one run create
    each alert, and only the creator announces it.
    """
    lock = get_redis().lock(
        LOCK_KEY, timeout=settings.SLA_BREACH_DETECTION_LOCK_SECONDS, blocking=False
    )
    try:
        held = lock.acquire(blocking=False)
    except redis.RedisError as exc:
        # Alerts matter more than avoiding duplicate work: run without the lock.
        logger.warning("sla-breach-detection: Redis unavailable, running unlocked: %s", exc)
        held = None
    if held is False:
        logger.info("sla-breach-detection: a previous run still holds the lock; skipping this run")
        return None
    try:
        result = sla_scan_run(
            now=timezone.now(), batch_size=settings.SLA_BREACH_DETECTION_BATCH_SIZE
        )
    finally:
        if held:
            _release(lock)
    logger.log(
        logging.WARNING if result.without_target else logging.INFO,
        "sla-breach-detection: scanned=%d warnings=%d breaches=%d without_target=%d duration=%.3fs",
        result.scanned,
        result.warnings,
        result.breaches,
        result.without_target,
        result.seconds,
    )
    return result


def _release(lock: redis.lock.Lock) -> None:
    # redis-py's Lock releases by compare-and-delete (Lua): never another run's lock.
    try:
        lock.release()
    except LockError:
        logger.warning("sla-breach-detection: the lock expired before the run ended")
    except redis.RedisError as exc:
        logger.warning("sla-breach-detection: releasing the lock failed (it expires): %s", exc)
