"""django-q2 entry points for vendor jobs: thin, they read settings and call services."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

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
