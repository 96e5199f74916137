"""Writes to SLA data: the scan's run (alerts and what they set off) and resolving alerts."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from config.tasks import enqueue
from notifications.models import NotificationLevel
from notifications.roles import OPS_MANAGER, orders_recipients
from notifications.services import Notice, audit, notify_many
from portal.events import SLA_BREACHED, publish_many
from portal.orders import order_assignees
from sla.models import AlertType, SLAAlert
from sla.scan import NewAlert, alerts_create_due, open_order_counts

logger = logging.getLogger(__name__)

ACTOR = "sla-breach-detection"
ESCALATION_TASK = "escalation.tasks.auto_escalate_batch"
# Triggers per escalation task: one task per chunk keeps the task rows few
# and each one's pickled arguments small (about 150 bytes a trigger).
ESCALATION_CHUNK = 1000


@dataclass(frozen=True)
class ScanResult:
    scanned: int
    without_target: int
    warnings: int
    breaches: int
    seconds: float


def sla_scan_run(*, now: datetime, batch_size: int = 5000) -> ScanResult:
    """Create every alert due at `now` and announce each one, `batch_size` per transaction.

    Each batch is one transaction: the alerts, their notifications, events and
    escalation tasks commit together or not at all. The statements per batch
    do not depend on the number of orders, and a batch is announced in bulk
    (one outbox INSERT, one escalation task per ESCALATION_CHUNK breaches, the
    notifications in one INSERT); what stays per alert is the email: one
    notification-dispatch task per notification.
    """
    started = time.monotonic()
    scanned, without_target = open_order_counts()
    warnings = breaches = 0
    while True:
        with transaction.atomic():
            alerts = alerts_create_due(now=now, limit=batch_size)
            announced = _alerts_announce(alerts, now=now)
        warnings += sum(1 for alert in announced if alert.type == AlertType.WARNING)
        breaches += sum(1 for alert in announced if alert.type == AlertType.BREACHED)
        # Fewer than asked: nothing left (or a concurrent run is creating the
        # rest, and announces them itself).
        if len(alerts) < batch_size:
            break
    return ScanResult(
        scanned=scanned,
        without_target=without_target,
        warnings=warnings,
        breaches=breaches,
        seconds=time.monotonic() - started,
    )


def _alerts_announce(alerts: list[NewAlert], *, now: datetime) -> list[NewAlert]:
    """Notify on warnings, publish and escalate on breaches; return the alerts announced.

    The whole batch is announced in one savepoint, in a few statements. If
    that fails, each alert is announced in its own savepoint, so one alert
    that cannot be announced is logged and its row deleted (the next run
    creates and announces it again) while the others go on.
    """
    warnings = [alert for alert in alerts if alert.type == AlertType.WARNING]
    order_ids = [alert.order_id for alert in warnings]
    assignees = order_assignees(order_ids)
    recipients = orders_recipients({oid: assignees.get(oid) for oid in order_ids})
    unheard = [order_id for order_id, people in recipients.items() if not people]
    if unheard:
        logger.warning(
            "%s: %d SLA warning(s) have no one to notify (no active assignee, no %s), e.g. %s",
            ACTOR,
            len(unheard),
            OPS_MANAGER,
            ", ".join(unheard[:5]),
        )
    # A warning with no one to tell is announced by being created.
    silent = [a for a in warnings if not recipients.get(a.order_id)]
    loud = [a for a in alerts if a.type != AlertType.WARNING or recipients.get(a.order_id)]
    if not loud:
        return silent
    try:
        with transaction.atomic():
            _announce(loud, now=now, recipients=recipients)
    except Exception:
        logger.exception(
            "%s: announcing a batch of %d alerts failed; announcing them one by one",
            ACTOR,
            len(loud),
        )
    else:
        return silent + loud
    announced = [a for a in loud if _alert_announce(a, now=now, recipients=recipients)]
    return silent + announced


def _alert_announce(
    alert: NewAlert, *, now: datetime, recipients: dict[str, list[AbstractBaseUser]]
) -> bool:
    """Announce one alert in its own savepoint; on failure log, delete the alert, return False."""
    try:
        with transaction.atomic():
            _announce([alert], now=now, recipients=recipients)
    except Exception:
        logger.exception(
            "%s: announcing %s alert %s for order %s failed; the next run retries it",
            ACTOR,
            alert.type,
            alert.id,
            alert.order_id,
        )
        SLAAlert.objects.filter(pk=alert.id).delete()
        return False
    return True


def _announce(
    alerts: list[NewAlert], *, now: datetime, recipients: dict[str, list[AbstractBaseUser]]
) -> None:
    warnings = [alert for alert in alerts if alert.type == AlertType.WARNING]
    breaches = [alert for alert in alerts if alert.type == AlertType.BREACHED]
    if warnings:
        _warnings_announce(warnings, now=now, recipients=recipients)
    if breaches:
        _breaches_announce(breaches, now=now)


def _warnings_announce(
    alerts: list[NewAlert], *, now: datetime, recipients: dict[str, list[AbstractBaseUser]]
) -> None:
    """One notification per recipient per warning (deduped by key), each with its dispatch task."""
    notify_many(
        Notice(
            title=f"SLA warning: order {alert.order_id} at {alert.elapsed_percent(now):g} % "
            "of its target",
            body=(
                f"Order {alert.order_id} (client {alert.client_id}, package {alert.package_id}) "
                f"has been open {alert.elapsed_minutes(now)} min of its "
                f"{alert.target_minutes} min SLA target."
            ),
            recipients=recipients.get(alert.order_id, []),
            level=NotificationLevel.WARNING,
            order_id=alert.order_id,
            dedupe_key=f"sla:{alert.type}:{alert.order_id}",
        )
        for alert in alerts
    )


def _breaches_announce(alerts: list[NewAlert], *, now: datetime) -> None:
    """One sla:breached event per breach (bulk outbox insert) and one escalation task per chunk.

    Both are written in the caller's transaction: the events go out and the
    escalation tasks exist exactly when the alerts commit.
    """
    publish_many(
        SLA_BREACHED,
        (
            {
                "orderId": alert.order_id,
                "clientId": alert.client_id,
                "packageId": alert.package_id,
                "targetMinutes": alert.target_minutes,
                "elapsedMinutes": alert.elapsed_minutes(now),
            }
            for alert in alerts
        ),
    )
    triggers = [
        [
            alert.order_id,
            "SLA_BREACH",
            f"sla-alert:{alert.id}",
            {
                "elapsedPercent": alert.elapsed_percent(now),
                "targetMinutes": alert.target_minutes,
                "elapsedMinutes": alert.elapsed_minutes(now),
            },
        ]
        for alert in alerts
    ]
    for start in range(0, len(triggers), ESCALATION_CHUNK):
        enqueue("auto-escalation", ESCALATION_TASK, triggers[start : start + ESCALATION_CHUNK])


def sla_alerts_resolve(*, order_id: str, status: str, actor: str = "sla-alert-resolution") -> int:
    """Mark the order's open alerts resolved (it closed with `status`); return how many.

    Each alert is claimed by a conditional UPDATE, so a second call (the
    event and order-status-sync both deliver the close) changes and audits
    nothing.
    """
    resolved = 0
    now = timezone.now()
    open_alerts = SLAAlert.objects.filter(order_id=order_id, resolved_at__isnull=True)
    for alert_id, alert_type in open_alerts.values_list("id", "type"):
        with transaction.atomic():
            claimed = SLAAlert.objects.filter(pk=alert_id, resolved_at__isnull=True).update(
                resolved_at=now
            )
            if claimed != 1:
                continue  # resolved by a concurrent call
            audit(
                action="sla.alert_resolved",
                target_type="sla_alert",
                target_id=alert_id,
                before={"resolvedAt": None},
                after={"resolvedAt": now.isoformat()},
                reason=f"order {order_id} {alert_type} alert: the order is {status}",
                actor=actor,
            )
        resolved += 1
    return resolved
