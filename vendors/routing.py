"""Which vendor takes an order: VendorRoutingRule, then load.

Eligible: an active rule for the order's package type (or any) and client
(or any) whose vendor is active. Best first: the lowest priority number among
the vendor's matching rules, then the fewest open orders, then the vendor id.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Min

from portal.orders import OrderRow, open_order_counts_by_vendor
from vendors.models import VendorRoutingRule, VendorStatus


def eligible_vendor_priorities(
    *, package_type: str, client_id: str, exclude: Iterable[int] = ()
) -> dict[int, int]:
    """Eligible vendor id -> its lowest matching priority number (unordered)."""
    return dict(
        VendorRoutingRule.objects.filter(
            is_active=True,
            vendor__status=VendorStatus.ACTIVE,
            package_type__in=[package_type, ""],
            client_id__in=[client_id, ""],
        )
        .exclude(vendor_id__in=list(exclude))
        .values("vendor_id")
        .annotate(best=Min("priority"))
        .values_list("vendor_id", "best")
    )


def ranked_vendor_ids(
    *, package_type: str, client_id: str, exclude: Iterable[int] = ()
) -> list[int]:
    """Eligible vendor ids for this kind of order, best first."""
    best_priority = eligible_vendor_priorities(
        package_type=package_type, client_id=client_id, exclude=exclude
    )
    load = open_order_counts_by_vendor(list(best_priority))
    return sorted(best_priority, key=lambda v: (best_priority[v], load.get(v, 0), v))


def pick_vendor_id(order: OrderRow, *, exclude: Iterable[int] = ()) -> int | None:
    """The best eligible vendor for `order`, never one in `exclude`; None if there is none."""
    ranked = ranked_vendor_ids(
        package_type=order.package_type, client_id=order.client_id, exclude=exclude
    )
    return ranked[0] if ranked else None
