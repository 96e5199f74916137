"""The vendor-health-check sweep: probe in parallel, then record and act from one thread.

Probes run in a bounded thread pool and touch no database (PostgreSQL allows
about 100 connections; a sweep may have hundreds of probes in flight). The
calling thread then writes every VendorPerformance row in bulk, counts
failures in Redis in one pipeline, and makes the status transitions.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

import redis
from django.conf import settings
from django.utils import timezone

from config.redis import get_redis
from vendors.models import Vendor, VendorPerformance, VendorStatus
from vendors.probe import ProbeResult, probe
from vendors.services import (
    failures_key,
    successes_key,
    vendor_bring_online,
    vendor_take_offline,
)

logger = logging.getLogger(__name__)

CHECKED_STATUSES = (VendorStatus.ACTIVE, VendorStatus.OFFLINE)
# Past every probe's own deadline, how long the sweep still waits for a
# thread (a stuck DNS lookup has no timeout of its own) before recording it
# as failed and moving on.
_STRAGGLER_GRACE_SECONDS = 2.0


@dataclass(frozen=True)
class Target:
    vendor_id: int
    url: str
    status: str


@dataclass
class SweepReport:
    results: list[ProbeResult] = field(default_factory=list)
    failures: dict[int, int] = field(default_factory=dict)  # vendor id -> consecutive failures
    taken_offline: list[int] = field(default_factory=list)
    brought_online: list[int] = field(default_factory=list)
    errors: list[int] = field(default_factory=list)  # vendors whose handling failed
    probe_seconds: float = 0.0
    write_seconds: float = 0.0


def checked_vendors(
    *, vendor_ids: Iterable[int] | None = None, statuses: Sequence[str] | None = CHECKED_STATUSES
) -> list[Target]:
    """Vendors with a health URL (in `statuses`, unless None), by id."""
    vendors = Vendor.objects.exclude(health_check_url="")
    if statuses is not None:
        vendors = vendors.filter(status__in=list(statuses))
    if vendor_ids is not None:
        vendors = vendors.filter(id__in=list(vendor_ids))
    rows = vendors.order_by("id").values_list("id", "health_check_url", "status")
    return [Target(*row) for row in rows]


def vendor_health_sweep(
    *, vendor_ids: Iterable[int] | None = None, statuses: Sequence[str] | None = CHECKED_STATUSES
) -> SweepReport:
    """Probe the vendors, record the results, take offline / bring back. Never raises.

    Safe to run twice at once: counters are atomic INCRs, and every status
    change is a conditional UPDATE that only one sweep can win.
    """
    report = SweepReport()
    try:
        targets = checked_vendors(vendor_ids=vendor_ids, statuses=statuses)
    except Exception:
        logger.exception("vendor-health-check: could not load the vendors to check")
        return report
    if not targets:
        return report
    started = time.monotonic()
    report.results = probe_all(targets)
    report.probe_seconds = time.monotonic() - started
    started = time.monotonic()
    _record(report)
    report.failures, successes = _count(report.results, targets)
    _transition(report, targets, successes)
    report.write_seconds = time.monotonic() - started
    failed = sum(not r.ok for r in report.results)
    logger.info(
        "vendor-health-check: %d probed in %.1f s, %d failed, offline %s, back %s, errors %s",
        len(report.results),
        report.probe_seconds,
        failed,
        report.taken_offline,
        report.brought_online,
        report.errors,
    )
    return report


def probe_all(targets: Sequence[Target], *, pool_size: int | None = None) -> list[ProbeResult]:
    """Probe every target concurrently; one result per target, in order."""
    timeout = settings.HEALTH_CHECK_TIMEOUT_SECONDS
    workers = min(pool_size or settings.VENDOR_HEALTH_CHECK_POOL_SIZE, len(targets))
    rounds = math.ceil(len(targets) / workers)
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="vendor-probe")
    futures: list[Future[ProbeResult]] = [
        pool.submit(probe, t.vendor_id, t.url, timeout=timeout) for t in targets
    ]
    wait(futures, timeout=rounds * timeout + _STRAGGLER_GRACE_SECONDS)
    # Do not wait for stragglers: their sockets are shut by the watchdog, and
    # a DNS lookup that hangs must not hold up the sweep.
    pool.shutdown(wait=False, cancel_futures=True)
    return [_outcome(t, f, timeout) for t, f in zip(targets, futures, strict=True)]


def _outcome(target: Target, future: Future[ProbeResult], timeout: float) -> ProbeResult:
    if future.done() and not future.cancelled() and future.exception() is None:
        return future.result()
    if future.done() and not future.cancelled():
        error = f"probe crashed: {future.exception()!r}"
        logger.error("vendor %s: %s", target.vendor_id, error)
    else:
        error = f"timed out after {timeout:g} s (probe did not finish)"
    return ProbeResult(target.vendor_id, False, None, None, error, timezone.now())


def _record(report: SweepReport) -> None:
    rows = [
        VendorPerformance(
            vendor_id=r.vendor_id,
            checked_at=r.checked_at,
            ok=r.ok,
            status_code=r.status_code,
            response_time_ms=r.response_time_ms,
            error=r.error,
        )
        for r in report.results
    ]
    try:
        VendorPerformance.objects.bulk_create(rows, batch_size=500)
    except Exception:
        # A vendor deleted since the sweep began breaks the batch: retry one by one.
        logger.exception("vendor-health-check: bulk insert of probe results failed")
        for row in rows:
            try:
                row.pk = None
                row.save(force_insert=True)
            except Exception:
                logger.exception("vendor %s: could not record its probe", row.vendor_id)


def _count(
    results: Sequence[ProbeResult], targets: Sequence[Target]
) -> tuple[dict[int, int], dict[int, int]]:
    """Update the Redis counters in one round trip; (failures, successes) by vendor id.

    A failure: INCR vendor:failures:{id} (its TTL restarted, so a stale count
    expires). A success: DEL it. Consecutive successes of an offline vendor are
    counted only when recovery needs more than one.
    """
    ttl = settings.VENDOR_FAILURE_COUNTER_TTL_SECONDS
    count_successes = settings.VENDOR_RECOVERY_SUCCESS_THRESHOLD > 1
    status = {t.vendor_id: t.status for t in targets}
    pipe = get_redis().pipeline(transaction=False)
    reads: list[tuple[str, int, int]] = []  # (kind, vendor id, reply index)
    n = 0
    for r in results:
        if r.ok:
            pipe.delete(failures_key(r.vendor_id))
            n += 1
            if count_successes and status[r.vendor_id] == VendorStatus.OFFLINE:
                pipe.incr(successes_key(r.vendor_id)).expire(successes_key(r.vendor_id), ttl)
                reads.append(("success", r.vendor_id, n))
                n += 2
        else:
            pipe.incr(failures_key(r.vendor_id)).expire(failures_key(r.vendor_id), ttl)
            reads.append(("failure", r.vendor_id, n))
            n += 2
            if count_successes:
                pipe.delete(successes_key(r.vendor_id))
                n += 1
    try:
        replies = pipe.execute()
    except redis.RedisError:
        logger.exception("vendor-health-check: Redis unavailable, failures not counted this time")
        return {}, {}
    failures: dict[int, int] = {}
    successes: dict[int, int] = {}
    for kind, vendor_id, index in reads:
        (failures if kind == "failure" else successes)[vendor_id] = int(replies[index])
    return failures, successes


def _transition(report: SweepReport, targets: Sequence[Target], successes: dict[int, int]) -> None:
    status = {t.vendor_id: t.status for t in targets}
    for r in report.results:
        try:
            if not r.ok and status[r.vendor_id] == VendorStatus.ACTIVE:
                _maybe_take_offline(report, r)
            elif r.ok and status[r.vendor_id] == VendorStatus.OFFLINE:
                _maybe_bring_online(report, r, successes.get(r.vendor_id, 0))
        except Exception:
            logger.exception("vendor-health-check: vendor %s: status change failed", r.vendor_id)
            report.errors.append(r.vendor_id)


def _maybe_take_offline(report: SweepReport, result: ProbeResult) -> None:
    count = report.failures.get(result.vendor_id, 0)
    if count < settings.VENDOR_OFFLINE_FAILURE_THRESHOLD:
        return
    reason = f"{count} consecutive failed health checks (last: {result.error})"
    if vendor_take_offline(vendor_id=result.vendor_id, reason=reason) is not None:
        report.taken_offline.append(result.vendor_id)


def _maybe_bring_online(report: SweepReport, result: ProbeResult, successes: int) -> None:
    needed = settings.VENDOR_RECOVERY_SUCCESS_THRESHOLD
    if needed > 1 and successes < needed:
        return
    reason = f"health check succeeded (HTTP {result.status_code})"
    if vendor_bring_online(vendor_id=result.vendor_id, reason=reason):
        report.brought_online.append(result.vendor_id)
