from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from escalation.conditions import Subject, conditions_match
from portal.orders import OrderRow

NOW = datetime(2025, 1, 10, 12, 0, tzinfo=UTC)


def subject(*, context=None, tier="premium", **order_fields) -> Subject:
    fields = {
        "id": "o-1", "client_id": "acme", "package_id": "pkg-basic", "package_type": "CRIMINAL",
        "status": "in_progress", "vendor_id": 7, "assigned_to_id": None, "escalation_level": 1,
        "created_at": NOW - timedelta(hours=5), "updated_at": NOW - timedelta(minutes=30),
    }  # fmt: skip
    fields.update(order_fields)
    return Subject(order=OrderRow(**fields), now=NOW, client_tier=tier, context=context or {})


CASES = [
    # (conditions, subject, matches)
    ({}, subject(), True),
    ({"packageType": "CRIMINAL"}, subject(), True),
    ({"packageType": "DRUG"}, subject(), False),
    ({"packageType": ["DRUG", "CRIMINAL"]}, subject(), True),
    ({"packageType": ["DRUG", "EMPLOYMENT"]}, subject(), False),
    ({"packageId": "pkg-basic"}, subject(), True),
    ({"packageId": ["pkg-gold"]}, subject(), False),
    ({"clientId": "acme"}, subject(), True),
    ({"clientId": ["other", "acme"]}, subject(), True),
    ({"clientId": "other"}, subject(), False),
    ({"clientTier": "premium"}, subject(), True),
    ({"clientTier": ["gold", "premium"]}, subject(), True),
    ({"clientTier": "premium"}, subject(tier="standard"), False),
    ({"clientTier": "premium"}, subject(tier=None), False),
    ({"minElapsedPercent": 100}, subject(context={"elapsedPercent": 125.5}), True),
    ({"minElapsedPercent": 100}, subject(context={"elapsedPercent": 100}), True),
    ({"minElapsedPercent": 150.5}, subject(context={"elapsedPercent": 125.5}), False),
    ({"minElapsedPercent": 100}, subject(), False),  # no SLA context: not a breach
    ({"minEscalationLevel": 1}, subject(), True),
    ({"minEscalationLevel": 2}, subject(), False),
    ({"maxEscalationLevel": 1}, subject(), True),
    ({"maxEscalationLevel": 0}, subject(), False),
    ({"minEscalationLevel": 0, "maxEscalationLevel": 2}, subject(), True),
    ({"vendorId": 7}, subject(), True),
    ({"vendorId": [3, 7]}, subject(), True),
    ({"vendorId": 9}, subject(context={"vendorId": 9}, vendor_id=None), True),  # from context
    ({"vendorId": 7}, subject(context={"vendorId": 9}), False),
    ({"vendorId": 7}, subject(vendor_id=None), False),
    ({"minutesUnresolved": 30}, subject(status="exception"), True),
    ({"minutesUnresolved": 31}, subject(status="exception"), False),
    ({"minutesUnresolved": 0}, subject(status="in_progress"), False),  # not in exception
    # AND of keys
    ({"packageType": "CRIMINAL", "clientTier": "premium"}, subject(), True),
    ({"packageType": "CRIMINAL", "clientTier": "gold"}, subject(), False),
    # Types must agree: no coercion, JSON true is not 1.
    ({"vendorId": "7"}, subject(), False),
    ({"packageId": 5}, subject(package_id="5"), False),
    ({"minEscalationLevel": True}, subject(), False),
    ({"minElapsedPercent": "100"}, subject(context={"elapsedPercent": 120}), False),
    ({"minElapsedPercent": 100}, subject(context={"elapsedPercent": "120"}), False),
    ({"vendorId": 7}, subject(context={"vendorId": True}), False),
]


@pytest.mark.parametrize(("conditions", "subject_", "expected"), CASES)
def test_conditions_match(conditions, subject_, expected):
    assert conditions_match(conditions, subject_) is expected
