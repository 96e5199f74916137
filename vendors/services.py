"""Writes to vendor data."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

import redis
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from config.db import delete_in_batches
from config.redis import get_redis
from config.tasks import enqueue
from notifications.models import NotificationLevel
from notifications.roles import OPS_MANAGER
from notifications.services import audit, notify
from portal.events import VENDOR_STATUS_CHANGED, publish
from portal.orders import (
    OrderRow,
    open_order_counts_by_vendor,
    order_move_vendor,
    orders_to_fail_over,
)
from vendors.models import Vendor, VendorPerformance, VendorStatus
from vendors.routing import eligible_vendor_priorities

logger = logging.getLogger(__name__)


def vendor_performance_prune(*, older_than: datetime, batch_size: int = 5000) -> int:
    """Delete probe history older than `older_than`, a batch at a time; return how many."""
    queryset = VendorPerformance.objects.filter(checked_at__lt=older_than)
    return delete_in_batches(queryset, batch_size=batch_size)


# --- status changes and failover ----------------------------------------------

HEALTH_CHECK_ACTOR = "vendor-health-check"


def failures_key(vendor_id: int) -> str:
    return f"vendor:failures:{vendor_id}"


def successes_key(vendor_id: int) -> str:
    return f"vendor:successes:{vendor_id}"


@dataclass(frozen=True)
class FailoverResult:
    moved: dict[str, int] = field(default_factory=dict)  # order id -> the vendor it went to
    stranded: list[str] = field(default_factory=list)  # no eligible vendor: left, escalated


def vendor_take_offline(*, vendor_id: int, reason: str) -> FailoverResult | None:
    """Take an active vendor offline and fail its orders over, all in one transaction.

    The status change is a conditional UPDATE (only from active): when two
    sweeps race, one wins and fails the orders over, the other gets None.
    A failure anywhere rolls the whole thing back; the vendor stays active
    with its failure count, and the next sweep tries again.
    """
    now = timezone.now()
    with transaction.atomic():
        claimed = Vendor.objects.filter(id=vendor_id, status=VendorStatus.ACTIVE).update(
            status=VendorStatus.OFFLINE, updated_at=now
        )
        if claimed != 1:
            return None  # not active any more: another sweep, or a person, got there first
        audit(
            action="vendor.status_changed",
            target_type="vendor",
            target_id=vendor_id,
            before={"status": VendorStatus.ACTIVE},
            after={"status": VendorStatus.OFFLINE},
            reason=reason,
            actor=HEALTH_CHECK_ACTOR,
        )
        result = vendor_fail_over_orders(vendor_id=vendor_id, offline_since=now)
        publish(
            VENDOR_STATUS_CHANGED,
            {
                "vendorId": vendor_id,
                "previousStatus": VendorStatus.ACTIVE.value,
                "status": VendorStatus.OFFLINE.value,
                "reason": reason,
                "failedOverOrders": sorted(result.moved),
            },
        )
        _notify_offline(vendor_id=vendor_id, offline_since=now, reason=reason, result=result)
    logger.warning(
        "vendor %s offline (%s): %d orders failed over, %d without an eligible vendor",
        vendor_id,
        reason,
        len(result.moved),
        len(result.stranded),
    )
    return result


def vendor_fail_over_orders(*, vendor_id: int, offline_since: datetime) -> FailoverResult:
    """Move the vendor's pending and in-progress orders to the next eligible vendor.

    Routing is asked once per (package type, client) and the open-order
    counts once in all; the counts are kept up to date in memory while
    assigning, so a thousand orders spread by load as they would one by one.
    Each move is conditional on the order still being this vendor's. Orders
    with no eligible vendor stay and get a VENDOR_OFFLINE escalation.
    Call inside a transaction (vendor_take_offline does).
    """
    orders = orders_to_fail_over(vendor_id)
    groups: dict[tuple[str, str], list[OrderRow]] = defaultdict(list)
    for order in orders:
        groups[(order.package_type, order.client_id)].append(order)
    priorities = {
        key: eligible_vendor_priorities(package_type=key[0], client_id=key[1], exclude=[vendor_id])
        for key in groups
    }
    candidates = sorted({v for group in priorities.values() for v in group})
    load = defaultdict(int, open_order_counts_by_vendor(candidates))
    result = FailoverResult()
    for key, group_orders in groups.items():
        eligible = priorities[key]
        for order in group_orders:
            if not eligible:
                result.stranded.append(order.id)
                continue
            target = min(eligible, key=lambda v: (eligible[v], load[v], v))
            if not order_move_vendor(
                order_id=order.id, from_vendor_id=vendor_id, to_vendor_id=target
            ):
                continue  # the order changed meanwhile (closed, or moved by someone else)
            load[target] += 1
            result.moved[order.id] = target
            audit(
                action="order.vendor_failed_over",
                target_type="order",
                target_id=order.id,
                before={"vendorId": vendor_id},
                after={"vendorId": target},
                reason=f"vendor {vendor_id} went offline",
                actor=HEALTH_CHECK_ACTOR,
            )
    occurrence = f"vendor-offline:{vendor_id}:{offline_since.isoformat()}"
    for order_id in result.stranded:
        enqueue(
            "auto-escalation",
            "escalation.tasks.auto_escalate",
            order_id,
            "VENDOR_OFFLINE",
            occurrence,
            {"vendorId": vendor_id},
        )
    return result


def _notify_offline(
    *, vendor_id: int, offline_since: datetime, reason: str, result: FailoverResult
) -> None:
    name = Vendor.objects.filter(id=vendor_id).values_list("name", flat=True).first()
    lines = [f"Reason: {reason}.", f"Orders failed over to other vendors: {len(result.moved)}."]
    if result.stranded:
        shown = ", ".join(result.stranded[:50])
        more = f" and {len(result.stranded) - 50} more" if len(result.stranded) > 50 else ""
        lines.append(
            f"Orders with no eligible vendor (left in place, escalated): "
            f"{len(result.stranded)}: {shown}{more}."
        )
    notify(
        title=f"Vendor {name} is offline",
        body="\n".join(lines),
        role=OPS_MANAGER,
        level=NotificationLevel.CRITICAL if result.stranded else NotificationLevel.WARNING,
        vendor_id=vendor_id,
        dedupe_key=f"vendor-offline:{vendor_id}:{offline_since.isoformat()}",
    )


def vendor_status_set(
    *,
    vendor_id: int,
    status: str,
    from_statuses: Iterable[str],
    reason: str,
    user: AbstractBaseUser | None = None,
    actor: str = HEALTH_CHECK_ACTOR,
) -> bool:
    """Move a vendor to `status` if it is in one of `from_statuses`; True if this call did.

    Conditional UPDATE, audited, `vendor:status:changed` published on commit.
    Orders are not moved (only going offline fails them over).
    """
    with transaction.atomic():
        previous = (
            Vendor.objects.select_for_update()
            .filter(id=vendor_id, status__in=list(from_statuses))
            .exclude(status=status)
            .values_list("status", flat=True)
            .first()
        )
        if previous is None:
            return False
        Vendor.objects.filter(id=vendor_id, status=previous).update(
            status=status, updated_at=timezone.now()
        )
        audit(
            action="vendor.status_changed",
            target_type="vendor",
            target_id=vendor_id,
            before={"status": previous},
            after={"status": status},
            reason=reason,
            actor=actor if user is None else "admin",
            user=user,
        )
        publish(
            VENDOR_STATUS_CHANGED,
            {
                "vendorId": vendor_id,
                "previousStatus": previous,
                "status": status,
                "reason": reason,
                "failedOverOrders": [],
            },
        )
        if status == VendorStatus.ACTIVE:
            # A fresh start: old failures must not take it straight back offline.
            transaction.on_commit(lambda: vendor_counters_clear(vendor_id=vendor_id))
    return True


def vendor_bring_online(
    *,
    vendor_id: int,
    reason: str,
    user: AbstractBaseUser | None = None,
    from_statuses: Iterable[str] = (VendorStatus.OFFLINE,),
) -> bool:
    """Make the vendor active again (by default only from offline); True if this call did."""
    return vendor_status_set(
        vendor_id=vendor_id,
        status=VendorStatus.ACTIVE,
        from_statuses=from_statuses,
        reason=reason,
        user=user,
    )


def vendor_counters_clear(*, vendor_id: int) -> None:
    try:
        get_redis().delete(failures_key(vendor_id), successes_key(vendor_id))
    except redis.RedisError:
        logger.exception("vendor %s: could not clear its health counters", vendor_id)
