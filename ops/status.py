"""What the status page shows: one small query per figure, none that grows with orders."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Max, Min, OuterRef, Q, Subquery
from django.utils import timezone
from django_q.models import Task

from config.schedules import JOBS
from escalation.models import EscalationExecution, ExecutionStatus
from notifications.models import AdminNotification, EmailStatus
from portal.models import OutboxEvent, RejectedEvent
from portal.orders import count_open_orders
from sla.models import AlertType, SLAAlert
from vendors.models import Vendor, VendorPerformance

# Jobs started on demand rather than by a schedule.
ON_DEMAND_JOBS = (
    ("auto-escalation", ("escalation.tasks.auto_escalate", "escalation.tasks.auto_escalate_batch")),
    ("notification-dispatch", ("notifications.tasks.notification_dispatch",
                               "notifications.tasks.notification_dispatch_batch")),
)  # fmt: skip


@dataclass(frozen=True)
class JobStatus:
    name: str
    schedule: str
    last_started: datetime | None
    duration_seconds: float | None
    succeeded: bool | None
    result: str


def _last_run(name: str, funcs: tuple[str, ...], schedule: str) -> JobStatus:
    task = (
        Task.objects.filter(func__in=funcs)
        .only("started", "stopped", "success", "result")
        .order_by("-started")
        .first()
    )
    if task is None:
        return JobStatus(name, schedule, None, None, None, "")
    duration = (task.stopped - task.started).total_seconds() if task.stopped else None
    return JobStatus(name, schedule, task.started, duration, task.success, str(task.result)[:200])


def job_statuses() -> list[JobStatus]:
    periodic = [_last_run(j.name, (j.func,), f"every {j.minutes} min") for j in JOBS]
    return periodic + [_last_run(name, funcs, "on demand") for name, funcs in ON_DEMAND_JOBS]


def sla_states() -> dict[str, int]:
    """Open orders on track, in warning, breached (an open order's alerts are unresolved)."""
    unresolved = SLAAlert.objects.filter(resolved_at__isnull=True)
    breached = unresolved.filter(type=AlertType.BREACHED).count()
    warned = (
        unresolved.filter(type=AlertType.WARNING)
        .exclude(order_id__in=unresolved.filter(type=AlertType.BREACHED).values("order_id"))
        .count()
    )
    open_orders = count_open_orders()
    return {
        "open": open_orders,
        "on_track": max(open_orders - breached - warned, 0),
        "warning": warned,
        "breached": breached,
    }


def vendor_rows() -> list[Vendor]:
    last = VendorPerformance.objects.filter(vendor=OuterRef("pk")).order_by("-checked_at")
    return list(
        Vendor.objects.annotate(
            last_checked_at=Subquery(last.values("checked_at")[:1]),
            last_ok=Subquery(last.values("ok")[:1]),
        ).order_by("status", "name")
    )


def vendors_by_status() -> dict[str, int]:
    return dict(Vendor.objects.values_list("status").annotate(n=Count("id")).order_by("status"))


def escalation_summary() -> dict[str, object]:
    return EscalationExecution.objects.aggregate(
        pending=Count("id", filter=Q(status=ExecutionStatus.PENDING)),
        running=Count("id", filter=Q(status=ExecutionStatus.RUNNING)),
        failed=Count("id", filter=Q(status=ExecutionStatus.FAILED)),
        done=Count("id", filter=Q(status=ExecutionStatus.DONE)),
        next_due=Min("due_at", filter=Q(status=ExecutionStatus.PENDING)),
    )


def notification_summary() -> dict[str, object]:
    return AdminNotification.objects.aggregate(
        unsent=Count("id", filter=Q(email_status__in=[EmailStatus.PENDING, EmailStatus.SENDING])),
        failed=Count("id", filter=Q(email_status=EmailStatus.FAILED)),
        sent=Count("id", filter=Q(email_status=EmailStatus.SENT)),
        last_sent=Max("email_sent_at"),
    )


def event_summary() -> dict[str, object]:
    day_ago = timezone.now() - timedelta(days=1)
    return {
        "rejected_total": RejectedEvent.objects.count(),
        "rejected_last_day": RejectedEvent.objects.filter(received_at__gte=day_ago).count(),
        "outbox_backlog": OutboxEvent.objects.filter(published_at__isnull=True).count(),
    }


def status_context() -> dict[str, object]:
    return {
        "jobs": job_statuses(),
        "sla": sla_states(),
        "vendors": vendor_rows(),
        "vendors_by_status": vendors_by_status(),
        "escalations": escalation_summary(),
        "notifications": notification_summary(),
        "events": event_summary(),
    }
