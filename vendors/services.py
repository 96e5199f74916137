"""Writes to vendor data."""

from __future__ import annotations

import logging
from datetime import datetime

from vendors.models import VendorPerformance

logger = logging.getLogger(__name__)


def vendor_performance_prune(*, older_than: datetime, batch_size: int = 5000) -> int:
    """Delete probe history older than `older_than`, a batch at a time; return how many.

    Batches keep each transaction (and its locks) short on a large table; two
    runs at once only split the work.
    """
    deleted = 0
    while True:
        ids = list(
            VendorPerformance.objects.filter(checked_at__lt=older_than)
            .order_by("id")
            .values_list("id", flat=True)[:batch_size]
        )
        if not ids:
            return deleted
        count, _ = VendorPerformance.objects.filter(id__in=ids).delete()
        deleted += count
