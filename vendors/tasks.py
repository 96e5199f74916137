"""django-q2 entry points for vendor jobs: thin, they read settings and call services."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from config.tasks import enqueue
from vendors.health import checked_vendors, vendor_health_sweep
from vendors.services import vendor_performance_prune

logger = logging.getLogger(__name__)


def vendor_performance_retention() -> int:
    """Job vendor-performance-retention: delete probe rows past the retention period.

    Safe to run twice at once: each run deletes whatever old rows it still finds.
    """
    cutoff = timezone.now() - timedelta(days=settings.VENDOR_PERFORMANCE_RETENTION_DAYS)
    deleted = vendor_performance_prune(older_than=cutoff)
    logger.info("vendor-performance-retention: deleted %d rows older than %s", deleted, cutoff)
    return deleted


def vendor_health_check() -> int:
    """Job vendor-health-check: probe every active or offline vendor with a health URL.

    Touches VendorPerformance (one row per probe), the Redis counters
    vendor:failures:{id}, vendor status (offline at the threshold, active on
    recovery) and, on going offline, the vendor's open orders. With more
    vendors than VENDOR_HEALTH_CHECK_BATCH_SIZE it only enqueues one batch
    task per slice, so several clusters share the probing.
    Safe to run twice at once: status changes are conditional UPDATEs that one
    run wins, order moves are conditional on the order's current vendor.
    Returns how many vendors were probed (or enqueued in batches).
    """
    vendor_ids = [t.vendor_id for t in checked_vendors()]
    size = settings.VENDOR_HEALTH_CHECK_BATCH_SIZE
    if len(vendor_ids) > size:
        for start in range(0, len(vendor_ids), size):
            enqueue(
                "vendor-health-check",
                "vendors.tasks.vendor_health_check_batch",
                vendor_ids[start : start + size],
            )
        logger.info("vendor-health-check: %d vendors in batches of %d", len(vendor_ids), size)
        return len(vendor_ids)
    return len(vendor_health_sweep(vendor_ids=vendor_ids).results)


def vendor_health_check_batch(vendor_ids: list[int]) -> int:
    """One slice of a split vendor-health-check; same guarantees as the whole job.

    Vendors no longer active or offline by the time it runs are skipped.
    """
    return len(vendor_health_sweep(vendor_ids=vendor_ids).results)
