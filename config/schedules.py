"""Every periodic job, declared once, and the sync that writes them as django-q2 Schedules.

Schedules carry literal arguments only (none, here): one schedule with
arguments the scheduler cannot evaluate breaks its whole pass.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django_q.models import Schedule

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    func: str
    interval_setting: str  # minutes, read from settings at sync time
    description: str

    @property
    def minutes(self) -> int:
        return int(getattr(settings, self.interval_setting))


JOBS: tuple[PeriodicJob, ...] = (
    PeriodicJob(
        name="vendor-performance-retention",
        func="vendors.tasks.vendor_performance_retention",
        interval_setting="VENDOR_PERFORMANCE_RETENTION_INTERVAL_MINUTES",
        description="Delete VendorPerformance rows older than the retention period, in batches.",
    ),
    PeriodicJob(
        name="notification-retry",
        func="notifications.tasks.notification_retry",
        interval_setting="NOTIFICATION_RETRY_INTERVAL_MINUTES",
        description="Send notification emails that are due: retries after backoff, lost "
        "dispatch tasks, sends whose worker died.",
    ),
    PeriodicJob(
        name="escalation-periodic",
        func="escalation.tasks.escalation_periodic",
        interval_setting="ESCALATION_PERIODIC_INTERVAL_MINUTES",
        description="Run due delayed escalations, trigger EXCEPTION_UNRESOLVED, requeue lost runs.",
    ),
    PeriodicJob(
        name="vendor-health-check",
        func="vendors.tasks.vendor_health_check",
        interval_setting="VENDOR_HEALTH_CHECK_INTERVAL_MINUTES",
        description="Probe every active or offline vendor; offline after repeated failures, "
        "orders failed over; back to active on recovery.",
    ),
    PeriodicJob(
        name="event-relay",
        func="portal.tasks.event_relay",
        interval_setting="EVENT_RELAY_INTERVAL_MINUTES",
        description="Publish outbox events Redis refused at commit, in order; prune old ones.",
    ),
    PeriodicJob(
        name="order-status-sync",
        func="portal.tasks.order_status_sync",
        interval_setting="ORDER_STATUS_SYNC_INTERVAL_MINUTES",
        description="Run the event handlers for order changes pub/sub did not deliver.",
    ),
    PeriodicJob(
        name="sla-breach-detection",
        func="sla.tasks.sla_breach_detection",
        interval_setting="SLA_BREACH_DETECTION_INTERVAL_MINUTES",
        description="Scan every open order against its SLA target; warn at 80 %, breach at 100 %.",
    ),
)

# A schedule whose function lives in one of these packages belongs to this
# declaration: sync_schedules removes it once it is no longer declared.
OWNED_PACKAGES = ("config", "portal", "vendors", "sla", "escalation", "notifications")


def job_named(name: str) -> PeriodicJob:
    for job in JOBS:
        if job.name == name:
            return job
    raise KeyError(name)


def _is_owned(func: str) -> bool:
    return func.split(".", 1)[0] in OWNED_PACKAGES


@dataclass(frozen=True)
class SyncResult:
    created: list[str]
    updated: list[str]
    removed: list[str]


def _write(job: PeriodicJob, using: str) -> bool:
    """Create or update one job's schedule; True if created. next_run is left alone."""
    defaults = {
        "func": job.func,
        "schedule_type": Schedule.MINUTES,
        "minutes": job.minutes,
        "repeats": -1,
        "args": None,
        "kwargs": None,
    }
    existing = list(Schedule.objects.using(using).filter(name=job.name).order_by("id"))
    for duplicate in existing[1:]:  # two syncs racing once; keep the oldest
        duplicate.delete()
    if not existing:
        Schedule.objects.using(using).create(name=job.name, **defaults)
        return True
    Schedule.objects.using(using).filter(pk=existing[0].pk).update(**defaults)
    return False


def sync_schedules(*, using: str = "default") -> SyncResult:
    declared = {job.name for job in JOBS}
    created, updated = [], []
    with transaction.atomic(using=using):
        for job in JOBS:
            (created if _write(job, using) else updated).append(job.name)
        stale = [
            s for s in Schedule.objects.using(using).exclude(name__in=declared) if _is_owned(s.func)
        ]
        for schedule in stale:
            schedule.delete()
    removed = [s.name or s.func for s in stale]
    logger.info("schedules synced: created=%s updated=%s removed=%s", created, updated, removed)
    return SyncResult(created=created, updated=updated, removed=removed)
