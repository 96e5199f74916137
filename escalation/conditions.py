"""Does a rule's conditions object hold for one order? (The schema is in escalation.schema.)

Pure functions over plain values, so matching 10,000 orders costs no queries
beyond loading the orders (and client tiers) once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from portal.orders import OrderRow

EXCEPTION_STATUS = "exception"


@dataclass(frozen=True)
class Subject:
    """What conditions are matched against: the order, its client's tier, the trigger's context."""

    order: OrderRow
    now: datetime
    client_tier: str | None = None
    context: dict[str, Any] = field(default_factory=dict)


def _same(expected: Any, actual: Any) -> bool:
    # Types must agree: "3" is not vendor 3, and JSON true is not 1.
    return type(expected) is type(actual) and expected == actual


def _any_of(expected: Any, actual: Any) -> bool:
    candidates = expected if isinstance(expected, list) else [expected]
    return any(_same(candidate, actual) for candidate in candidates)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _at_least(threshold: Any, actual: Any) -> bool:
    threshold, actual = _number(threshold), _number(actual)
    return threshold is not None and actual is not None and actual >= threshold


def _at_most(threshold: Any, actual: Any) -> bool:
    threshold, actual = _number(threshold), _number(actual)
    return threshold is not None and actual is not None and actual <= threshold


def _vendor_id(subject: Subject) -> Any:
    # VENDOR_OFFLINE names the vendor in its context; otherwise the order's vendor.
    return subject.context.get("vendorId", subject.order.vendor_id)


def _minutes_unresolved(subject: Subject) -> float | None:
    if subject.order.status != EXCEPTION_STATUS:
        return None
    return (subject.now - subject.order.updated_at).total_seconds() / 60


_CHECKS: dict[str, Callable[[Any, Subject], bool]] = {
    "packageType": lambda v, s: _any_of(v, s.order.package_type),
    "packageId": lambda v, s: _any_of(v, s.order.package_id),
    "clientId": lambda v, s: _any_of(v, s.order.client_id),
    "clientTier": lambda v, s: _any_of(v, s.client_tier),
    "vendorId": lambda v, s: _any_of(v, _vendor_id(s)),
    "minElapsedPercent": lambda v, s: _at_least(v, s.context.get("elapsedPercent")),
    "minEscalationLevel": lambda v, s: _at_least(v, s.order.escalation_level),
    "maxEscalationLevel": lambda v, s: _at_most(v, s.order.escalation_level),
    "minutesUnresolved": lambda v, s: _at_least(v, _minutes_unresolved(s)),
}


class UnknownConditionError(ValueError):
    pass


def conditions_match(conditions: dict[str, Any], subject: Subject) -> bool:
    """AND of every key; an empty object matches. A value of the wrong type never matches."""
    for key, expected in conditions.items():
        check = _CHECKS.get(key)
        if check is None:
            raise UnknownConditionError(f"unknown condition key {key!r}")
        if not check(expected, subject):
            return False
    return True


def needs_client_tier(conditions: dict[str, Any]) -> bool:
    return "clientTier" in conditions
