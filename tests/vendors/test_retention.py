from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from django_q.tasks import async_task

from tests.factories import VendorFactory, VendorPerformanceFactory
from vendors.models import VendorPerformance
from vendors.services import vendor_performance_prune

pytestmark = pytest.mark.django_db


def test_retention_job_deletes_only_rows_past_the_period(settings):
    settings.VENDOR_PERFORMANCE_RETENTION_DAYS = 30
    vendor = VendorFactory()
    now = timezone.now()
    old = [VendorPerformanceFactory(vendor=vendor, checked_at=now - timedelta(days=31 + i))
           for i in range(5)]  # fmt: skip
    recent = VendorPerformanceFactory(vendor=vendor, checked_at=now - timedelta(days=29))
    # Through django-q2 (sync in tests), by the dotted path the schedule uses.
    async_task("vendors.tasks.vendor_performance_retention")
    remaining = set(VendorPerformance.objects.values_list("id", flat=True))
    assert remaining == {recent.id}
    assert not remaining & {p.id for p in old}


def test_prune_works_in_batches():
    vendor = VendorFactory()
    old = timezone.now() - timedelta(days=100)
    VendorPerformance.objects.bulk_create(
        VendorPerformance(vendor=vendor, checked_at=old, ok=True) for _ in range(25)
    )
    assert vendor_performance_prune(older_than=timezone.now(), batch_size=10) == 25
    assert VendorPerformance.objects.count() == 0
