"""Giving a new order its vendor (the order:new handler's service)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.db import transaction

from notifications.models import NotificationLevel
from notifications.roles import OPS_MANAGER
from notifications.services import audit, notify
from portal import orders as portal_orders
from vendors.routing import pick_vendor_id

logger = logging.getLogger(__name__)

ACTOR = "order:new"


@dataclass(frozen=True)
class AssignmentResult:
    outcome: str  # assigned, already_assigned, closed, not_found, no_vendor, lost_race
    vendor_id: int | None = None


@transaction.atomic
def order_assign_vendor(*, order_id: str, actor: str = ACTOR) -> AssignmentResult:
    """Assign the best eligible vendor to an open order that has none.

    The assignment is one conditional UPDATE (`... WHERE vendor_id IS NULL`),
    so two handlers for the same order at once assign once: the loser sees
    0 rows updated and leaves it. An order no vendor can take notifies the
    ops managers once per order (dedupe key). Safe to call again and again.
    """
    order = portal_orders.get_order(order_id)
    if order is None:
        # The portal may publish before its own commit is visible; order-status-sync
        # comes back to the order once it exists.
        logger.warning("order %s: not found, no vendor assigned", order_id)
        return AssignmentResult("not_found")
    if order.vendor_id is not None:
        return AssignmentResult("already_assigned", order.vendor_id)
    if not order.is_open:
        return AssignmentResult("closed")
    vendor_id = pick_vendor_id(order)
    if vendor_id is None:
        _notify_no_vendor(order)
        return AssignmentResult("no_vendor")
    if not portal_orders.order_set_vendor_if_unassigned(order_id=order.id, vendor_id=vendor_id):
        logger.info("order %s: another process assigned its vendor first", order.id)
        return AssignmentResult("lost_race")
    audit(
        action="order.vendor_assigned",
        target_type="order",
        target_id=order.id,
        before={"vendorId": None},
        after={"vendorId": vendor_id},
        reason=f"new {order.package_type} order routed by VendorRoutingRule",
        actor=actor,
    )
    logger.info("order %s: assigned vendor %s", order.id, vendor_id)
    return AssignmentResult("assigned", vendor_id)


def _notify_no_vendor(order: portal_orders.OrderRow) -> None:
    logger.warning("order %s: no eligible vendor for package type %s, client %s",
                   order.id, order.package_type, order.client_id)  # fmt: skip
    notify(
        title=f"No vendor can take order {order.id}",
        body=(
            f"No active vendor has an active routing rule for package type "
            f"{order.package_type!r} and client {order.client_id!r}. Add or enable a "
            "VendorRoutingRule, or assign the order by hand."
        ),
        role=OPS_MANAGER,
        level=NotificationLevel.WARNING,
        order_id=order.id,
        dedupe_key=f"order-no-vendor:{order.id}",
    )
